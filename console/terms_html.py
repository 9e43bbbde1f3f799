"""The remote-support terms (a small Markdown subset: one ``#`` title, paragraphs, a numbered
list, ``**bold**`` and ``*italic*``) as HTML for the terms page. The text is escaped first and
only these few tags are added, so nothing in the file can inject markup."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

ITEM = re.compile(r"^\d+\.\s+")
BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)
ITALIC = re.compile(r"\*(.+?)\*", re.S)


def _inline(text: str) -> str:
    html = str(escape(" ".join(text.split())))
    return ITALIC.sub(r"<em>\1</em>", BOLD.sub(r"<strong>\1</strong>", html))


def _blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def terms_html(text: str, heading: str = "h2") -> Markup:
    """``text`` as HTML; its ``#`` title becomes ``heading`` (the page has its own h1)."""
    out: list[str] = []
    for block in _blocks(text):
        if block[0].startswith("# "):
            out.append(f"<{heading}>{_inline(block[0][2:])}</{heading}>")
            block = block[1:]
        if block and ITEM.match(block[0]):
            items: list[str] = []
            for line in block:
                if ITEM.match(line):
                    items.append(ITEM.sub("", line))
                else:
                    items[-1] += " " + line.strip()
            out.append("<ol>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ol>")
        elif block:
            out.append(f"<p>{_inline(' '.join(block))}</p>")
    return Markup("\n".join(out))
