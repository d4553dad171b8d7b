"""Errors a caller can cause, each with the HTTP status the web layer answers with."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    status = 400


class NotFound(ServiceError):
    """Also for what exists but the caller may not see: never reveal that it exists."""

    status = 404

    def __init__(self, message: str = "not found"):
        super().__init__(message)


class Conflict(ServiceError):
    status = 409


class TooLarge(ServiceError):
    status = 413


class Unprocessable(ServiceError):
    status = 422
