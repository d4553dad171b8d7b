"""Handed-in notebooks: the stored file, and the file rendered for reading.

Who may read one is who may see the submission (``submissions.submission_for``).

A notebook is untrusted content: rendered to HTML with nbconvert's script-free template, its HTML
(markdown, rich outputs) cut down to reading tags by bleach, then shown in a sandboxed frame under
the reports' Content-Security-Policy, which allows no script and loads nothing from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from markupsafe import escape

from ..models import Submission
from .errors import NotFound

MIMETYPE = "application/x-ipynb+json"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1rem 1.5rem; color: #1b1f24; }}
.cell {{ margin: 0 0 .9rem; }}
.input, .output_area {{ display: flex; gap: .6rem; }}
.prompt {{ min-width: 5.5em; flex: none; text-align: right; color: #6b7280; font: 12px/2.2 monospace; }}
.inner_cell, .output_subarea {{ flex: 1; min-width: 0; }}
.input_area {{ background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 4px; overflow-x: auto; }}
.input_area pre {{ margin: 0; padding: .45rem .6rem; }}
.output_subarea pre {{ margin: .25rem 0; white-space: pre-wrap; overflow-wrap: anywhere; }}
.output_stderr pre, .output_error pre {{ background: #fff5f5; }}
.output_subarea img {{ max-width: 100%; }}
.text_cell_render {{ overflow-x: auto; }}
.ansi-red-fg {{ color: #c62828; }} .ansi-green-fg {{ color: #2e7d32; }} .ansi-blue-fg {{ color: #1565c0; }}
.ansi-cyan-fg {{ color: #00838f; }} .ansi-yellow-fg {{ color: #8d6e00; }} .ansi-bold {{ font-weight: bold; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #d0d7de; padding: .2rem .45rem; }}
{highlight}
</style></head>
<body>{body}</body></html>"""
# What a rendered notebook keeps of its HTML (markdown and rich outputs); the rest is stripped.
TAGS = frozenset({"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl",
                  "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd",
                  "li", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "summary", "sup", "table",
                  "tbody", "td", "tfoot", "th", "thead", "tr", "ul"})


def stored(sub: Submission) -> Path:
    """The handed-in file; NotFound when the instance lost it."""
    path = current_app.extensions["handin"].uploads.path(sub.sha256)
    if not path.is_file():
        raise NotFound("the stored notebook of this submission is missing")
    return path


def download_name(sub: Submission) -> str:
    name = sub.filename if sub.filename.endswith(".ipynb") else f"{sub.filename}.ipynb"
    return name


def render_html(sub: Submission) -> str:
    """The notebook as a self-contained page: inline CSS, images as data: URIs, no script, no remote loads."""
    import nbformat
    from nbconvert import HTMLExporter
    from pygments.formatters import HtmlFormatter

    path = stored(sub)
    title = escape(f"{sub.user.display_name} · {sub.assignment.module} · attempt {sub.attempt}")
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        body, _ = HTMLExporter(template_name="basic", exclude_anchor_links=True).from_notebook_node(nb)
    except Exception as exc:  # noqa: BLE001 - intake accepted it, nbconvert cannot read it: say so, offer the file
        body = (f"<p>This notebook cannot be shown ({escape(type(exc).__name__)}: {escape(str(exc)[:300])}). "
                "Download it and open it in Jupyter.</p>")
    return _PAGE.format(title=title, body=sanitize(body), highlight=HtmlFormatter().get_style_defs(".highlight"))


def sanitize(html: str) -> str:
    """Keep the tags a notebook is read with; drop script, frames, forms, event handlers and remote images."""
    import bleach

    return bleach.clean(html, tags=TAGS, attributes=_allowed_attribute, protocols={"http", "https", "mailto", "data"},
                        strip=True)


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("class", "title") or (tag in ("td", "th") and name in ("colspan", "rowspan")):
        return True
    if tag == "a" and name == "href":
        return value.startswith(("http://", "https://", "mailto:", "#"))
    if tag == "img":
        return name in ("alt", "width", "height") or (name == "src" and value.startswith("data:image/"))
    return False
