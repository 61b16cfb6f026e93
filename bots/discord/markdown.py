"""The backend's markdown as Discord shows it, cut into messages Discord accepts.

Discord renders a subset of markdown: headings up to `###`, no tables, no images, no rules.
The rest is rewritten into what Discord does render, code left untouched. Messages carry at
most 2,000 characters, so long text is split between lines or words, never inside an inline
code span or a bold run, and a split inside a fenced block closes the fence and reopens it
(same language) in the next message so both halves still render as code.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

MESSAGE_LIMIT = 2000

_FENCE = re.compile(r"^\s*(```|~~~)(\S*)")
_DEEP_HEADING = re.compile(r"^#{4,6}\s+(.*?)\s*#*\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_PAIRED = ("**", "__", "~~", "||")


def width(text: str) -> int:
    """Length as Discord counts it (UTF-16 code units: an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


def to_discord(text: str) -> str:
    """Rewrite what Discord would show as raw syntax; fenced code stays byte for byte."""
    out: list[str] = []
    table: list[str] = []
    fence: str | None = None

    def flush_table() -> None:
        if table:
            out.append("```")
            out.extend(row.strip() for row in table)
            out.append("```")
            table.clear()

    for line in _BREAK.sub("\n", text).split("\n"):
        opener = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if opener and opener.group(1) == fence and not opener.group(2):
                fence = None
            continue
        if opener:
            flush_table()
            fence = opener.group(1)
            out.append(line)
            continue
        if _TABLE_ROW.match(line):
            table.append(line)
            continue
        flush_table()
        if _RULE.match(line):
            out.append("")
            continue
        heading = _DEEP_HEADING.match(line)
        if heading:
            line = f"**{heading.group(1)}**"
        out.append(_IMAGE.sub(_image_link, line))
    flush_table()
    return "\n".join(out).strip("\n")


def _image_link(match: re.Match[str]) -> str:
    alt, url = match.group(1).strip(), match.group(2)
    return f"[{alt}]({url})" if alt else url


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut `text` into pieces of at most `limit` (Discord-counted) characters.

    Lines are packed greedily; a line too long on its own is cut at the last space where no
    inline span is left open. A piece that ends inside a fence gets a closing fence, and the
    next piece reopens it with the same info string.
    """
    if width(text) <= limit:
        return [text] if text.strip() else []
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    fence: str | None = None  # the opening line of the fence we are in, e.g. "```py"

    def room() -> int:
        # What the next line may take: its newline, and the closing fence a cut would need.
        return limit - size - (1 if current else 0) - (4 if fence is not None else 0)

    def flush(reopen: bool = True) -> None:
        nonlocal size
        body = "\n".join(current)
        if fence is not None and reopen:
            body += "\n" + fence[:3]
        if body.strip() and current != [fence]:
            pieces.append(body)
        current.clear()
        size = 0
        if fence is not None and reopen:
            current.append(fence)
            size = width(fence)

    def add(line: str) -> None:
        nonlocal size
        size += width(line) + (1 if current else 0)
        current.append(line)

    for line in text.split("\n"):
        opener = _FENCE.match(line)
        # A line that opens a fence also needs room for the fence a cut would close.
        reserve = 4 if opener and fence is None else 0
        if width(line) > room() - reserve:
            if current and current != [fence]:
                flush()
            heads, line = _cut_long_line(line, max(room() - reserve, 1))
            for head in heads:
                add(head)
                flush()
        add(line)
        if opener and fence is None:
            fence = line.strip()
        elif opener and fence is not None and opener.group(1) == fence[:3] and not opener.group(2):
            fence = None
    flush(reopen=False)
    return pieces


def _cut_long_line(line: str, room: int) -> tuple[list[str], str]:
    """Pieces of one over-long line, each within `room`, and the tail that fits.

    Widths come from one running sum and pieces are taken by offset, so a 40,000-character
    line costs a pass, not a copy of the rest of it per piece.
    """
    sizes = [0, *accumulate(2 if ord(char) > 0xFFFF else 1 for char in line)]
    heads: list[str] = []
    start = 0
    while sizes[-1] - sizes[start] > room:
        end = max(bisect_right(sizes, sizes[start] + room) - 1, start + 1)
        head, start = _cut_line(line, start, end)
        heads.append(head)
    return heads, line[start:]


def _cut_line(line: str, start: int, end: int) -> tuple[str, int]:
    """Cut `line[start:end]`: at a space outside inline markup if possible, else hard; returns
    the piece and where the rest starts (spaces after a soft cut skipped)."""
    fallback = -1
    for index in range(end, start, -1):
        at_space = line[index - 1] == " " or (index < len(line) and line[index] == " ")
        if not at_space:
            continue
        head = line[start:index].rstrip()
        if not head:
            continue
        if _balanced(head):
            return head, _skip_space(line, index)
        if fallback < 0:
            fallback = index
    if fallback > 0:
        return line[start:fallback].rstrip(), _skip_space(line, fallback)
    return line[start:end], end


def _skip_space(line: str, index: int) -> int:
    while index < len(line) and line[index].isspace():
        index += 1
    return index


def _balanced(text: str) -> bool:
    """No inline code span or paired marker (**, __, ~~, ||) left open at the end of `text`."""
    without_code = re.sub(r"`[^`]*`", "", text)
    if without_code.count("`") % 2:
        return False
    return all(without_code.count(marker) % 2 == 0 for marker in _PAIRED)
