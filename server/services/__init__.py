"""Every rule of the platform: who may see what, attempts, deadlines, release, grading, overrides.

Views call these and stay thin; each function checks again what its caller may do, so a view
that forgets a check still cannot leak (default-deny twice).
"""
