"""The page machinery of the HTML reports (a run's, a dry run's): escaping, tables, sections
and the page shell with its stylesheet. A report says what goes on its page; this module
says how that is written, once.

Text is escaped wherever it goes in; markup a report builds itself goes in as `Html`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

CSS = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\n"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "td:first-child{text-align:left}\n"
    ".error{color:#a00}.ok{color:#070}pre{background:#f6f6f6;padding:6px}"
)


class Html(str):
    """Markup, put on a page as it is (any other text is escaped)."""


def escape(value: object) -> Html:
    """`value` as text on a page: `<`, `>`, `&` and quotes escaped."""
    return value if isinstance(value, Html) else Html(html.escape(str(value)))


def table(head: Sequence[str], rows: Iterable[Sequence[object]], empty: str | None = None) -> Html:
    """A header row, then a row per item of `rows`. `empty`: the one row shown for none."""
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    if not body and empty is not None:
        body = f"<tr><td colspan={len(head)}>{escape(empty)}</td></tr>"
    return Html(f"<table><tr>{header}</tr>{body}</table>")


def section(title: str, content: str) -> Html:
    """A titled part of a page: `content` is markup."""
    return Html(f"<h2>{escape(title)}</h2>{content}\n")


def paragraph(text: object, css_class: str | None = None) -> Html:
    """A paragraph of `text`; nothing when there is no text (None or empty)."""
    if text is None or text == "":
        return Html("")
    attribute = f" class={css_class}" if css_class else ""
    return Html(f"<p{attribute}>{escape(text)}</p>")


def lines(texts: Iterable[object]) -> Html:
    """Texts one under the other, in one cell."""
    return Html("<br>".join(escape(t) for t in texts))


def page(title: str, parts: Iterable[str]) -> str:
    """A whole page: `title` as its title and heading, then `parts` (markup) in order."""
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{escape(title)}</title>\n'
        f"<style>{CSS}</style></head><body>\n<h1>{escape(title)}</h1>\n"
        + "".join(parts)
        + "</body></html>\n"
    )
