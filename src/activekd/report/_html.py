"""HTML building blocks of the self-contained report page: escaped text, tables, base64 images, the page shell.

Nothing on the page refers outside it: no scripts, no stylesheets, no fonts; images are ``data:`` URIs.
"""

from __future__ import annotations

import base64
import html
import json
from typing import Any

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1150px; color: #222;
       padding: 0 16px; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
td.stop { color: #a33; font-weight: 600; } td.continue { color: #276; font-weight: 600; }
td.text { text-align: left; } td.best { background: #e3f3e3; font-weight: 600; } td.wrap { white-space: normal; text-align: left; }
figure { margin: 0.8em 0; display: table; } figcaption { display: table-caption; caption-side: bottom; font-size: 0.85em; color: #555; } img { max-width: 100%; }
pre { background: #f7f7f7; padding: 8px; font-size: 0.8em; overflow-x: auto; }
.note { color: #555; font-size: 0.9em; } .grid { display: flex; flex-wrap: wrap; gap: 12px; }
.grid > figure { display: block; flex: 0 1 calc(50% - 6px); margin: 0; } .grid figcaption { display: block; }
details { margin: 0.3em 0; } .scroll { overflow-x: auto; max-width: 100%; }
.thumbrow { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; margin: 6px 0; }
.thumblabel { width: 110px; font-size: 0.85em; } p.runname { margin-bottom: 0; }
figure.thumb { display: block; margin: 0; width: 150px; } figure.thumb figcaption { display: block; font-size: 0.72em; overflow-wrap: anywhere; }
img.thumb { width: 64px; height: 64px; image-rendering: pixelated; border: 1px solid #ccc; } .nothumb { font-size: 0.75em; color: #999; }
"""


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def table(header: list[str], rows: list[list[str]], classes: list[list[str]] | None = None) -> str:
    """An HTML table of already-formatted strings; ``classes[i][j]`` is cell (i, j)'s CSS class ('' for none)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for i, r in enumerate(rows):
        cells = []
        for j, c in enumerate(r):
            cls = " ".join(x for x in (classes[i][j] if classes else "", "text" if j and _is_text(c) else "") if x)
            cells.append(f'<td class="{cls}">{esc(c)}</td>' if cls else f"<td>{esc(c)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class=\"scroll\"><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def _is_text(cell: str) -> bool:
    """Cells that start with a letter (names, decisions, settings) are left-aligned; figures stay right-aligned."""
    return bool(cell) and cell[0].isalpha()


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def thumb(png: bytes, alt: str) -> str:
    """A small image, inlined like :func:`image`, without a figure around it."""
    return f'<img class="thumb" alt="{esc(alt)}" src="{_uri(png)}">'


def image(png: bytes, alt: str, caption: str = "") -> str:
    """A figure with the PNG inlined as a base64 ``data:`` URI."""
    uri = _uri(png)
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{esc(alt)}" src="{uri}">{cap}</figure>'


def section(title: str, *parts: str) -> str:
    return f"<section><h2>{esc(title)}</h2>{''.join(parts)}</section>"


def para(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{esc(text)}</p>'


def details(summary: str, obj: Any) -> str:
    """A collapsed block with ``obj`` as pretty JSON."""
    return collapsed(summary, f"<pre>{esc(json.dumps(obj, indent=2, sort_keys=True))}</pre>")


def collapsed(summary: str, inner_html: str, open_: bool = False) -> str:
    return f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{inner_html}</details>"


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>{body}</body></html>\n")
