"""Long text cut into pieces a platform accepts, on the softest boundary, in linear time.

What must hold:
- every piece's *measured* size fits `limit`: the measure is the platform's (Slack counts a
  character as its escaped form, Discord counts astral characters twice);
- a cut prefers a paragraph break, then a line break, then a space, as long as that keeps at
  least a third of the room; otherwise the text is cut hard at the limit;
- the work is linear in the text: sizes come from one running sum and pieces are taken by
  index, so the rest of the text is never copied per piece (40,000 characters of fuzz input
  must not cost 40,000²).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from itertools import accumulate, repeat

BOUNDARIES = ("\n\n", "\n", " ")


def one_per_char(char: str) -> int:
    return 1


def split_text(
    text: str,
    limit: int,
    width: Callable[[str], int] = one_per_char,
    boundaries: tuple[str, ...] = BOUNDARIES,
    *,
    weights: Mapping[str, int] | None = None,
) -> list[str]:
    """`text` (outer blank lines dropped) in pieces whose measured size is at most `limit`.
    `weights` (characters that count for more than one) is the fast form of `width`: sizes
    are then summed by a dict lookup per character in C, not a Python call."""
    text = text.strip("\n")
    if weights is not None:
        # most texts fit whole: their width is their length plus each heavy character's extra,
        # counted in C, without a size per character
        whole = len(text) + sum(text.count(char) * (w - 1) for char, w in weights.items())
        if whole <= limit:
            return [text] if text else []
        widths: Iterable[int] = map(weights.get, text, repeat(1))
    else:
        widths = map(width, text)
    sizes = [0, *accumulate(widths)]  # sizes[i]: width of text[:i]
    pieces: list[str] = []
    start, length = 0, len(text)
    while start < length:
        if sizes[length] - sizes[start] <= limit:
            pieces.append(text[start:])
            break
        end = max(bisect_right(sizes, sizes[start] + limit) - 1, start)
        cut = _soft_cut(text, start, end, boundaries)
        piece = text[start:cut].rstrip()
        if piece:
            pieces.append(piece)
        start = cut
        while start < length and text[start] == "\n":
            start += 1
    return pieces


def _soft_cut(text: str, start: int, end: int, boundaries: tuple[str, ...]) -> int:
    """Where to cut `text[start:end]`: after the last boundary in its last two thirds, else at
    `end` (at least one character, so the loop always advances)."""
    for separator in boundaries:
        at = text.rfind(separator, start, end)
        if at - start > (end - start) // 3:
            return at + len(separator)
    return max(end, start + 1)
