"""The timeline in words: a draft as the protocol's summary line, and what changed between two.

Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) 3. Title: "Urban Dreams" (0-3s)
"""

from __future__ import annotations

from dataclasses import dataclass

from core.models import Draft, Segment, Track

_KIND_LABEL = {0: "Video", 1: "BGM", 7: "Title"}


@dataclass(frozen=True)
class TrackView:
    label: str
    name: str
    spans: tuple[tuple[float, float], ...]
    volume: int | None


def _seconds(ms: float) -> str:
    value = ms / 1000
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def _segment_name(kind: int, segment: Segment) -> str:
    meta = segment.meta
    if kind == 7:
        text = meta.get("text") or meta.get("name") or meta.get("title") or ""
        return f'"{text}"' if text else "(text)"
    for key in ("name", "title", "text", "prompt", "filename"):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "(untitled)"


def _volume(segment: Segment) -> int | None:
    value = segment.meta.get("volume")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(value * 100) if 0 < value <= 1 and isinstance(value, float) else round(value)


def view(track: Track) -> TrackView:
    label = _KIND_LABEL.get(track.kind, "Track")
    if track.kind == 1 and track.meta.get("kind") in ("voice", "voiceover"):
        label = "Voice"
    spans: list[tuple[float, float]] = []
    cursor = 0
    names: list[str] = []
    volume: int | None = None
    for segment in track.segments:
        start = segment.start_ms if segment.start_ms is not None else cursor
        end = start + max(segment.duration_ms, 0)
        spans.append((start, end))
        cursor = end
        names.append(_segment_name(track.kind, segment))
        volume = volume if volume is not None else _volume(segment)
    name = ", ".join(dict.fromkeys(names)) or "(empty)"
    return TrackView(label, name, tuple(spans), volume)


def _span_text(tv: TrackView) -> str:
    parts = [f"{_seconds(a)}-{_seconds(b)}s" for a, b in tv.spans] or ["empty"]
    text = ", ".join(parts)
    if tv.label in ("BGM", "Voice") and tv.volume is not None:
        text += f", {tv.volume}%"
    return text


def summarize(draft: Draft) -> str:
    """The protocol's summary form; an empty draft says so plainly."""
    tracks = [t for t in draft.tracks if t.segments]
    if not tracks:
        return "Timeline (0 tracks): empty - nothing generated yet."
    items = [
        f"{i}. {tv.label}: {tv.name} ({_span_text(tv)})"
        for i, tv in enumerate(map(view, tracks), 1)
    ]
    noun = "track" if len(tracks) == 1 else "tracks"
    return f"Timeline ({len(tracks)} {noun}): " + " ".join(items)


def total_seconds(draft: Draft) -> float:
    if draft.duration_ms:
        return draft.duration_ms / 1000
    ends = [end for t in draft.tracks for _, end in view(t).spans]
    return max(ends, default=0) / 1000


def describe_changes(before: Draft, after: Draft) -> list[str]:
    """Plain sentences for what changed, e.g. "added BGM track 'Lo-fi' at 35%"."""
    old = [view(t) for t in before.tracks if t.segments]
    new = [view(t) for t in after.tracks if t.segments]
    changes: list[str] = []
    unmatched = list(old)
    for tv in new:
        match = next((o for o in unmatched if o.label == tv.label and o.name == tv.name), None)
        if match is None:
            match = next((o for o in unmatched if o.label == tv.label), None)
        if match is None:
            changes.append(f"added {tv.label} track {_quote(tv.name)}{_at(tv)}")
            continue
        unmatched.remove(match)
        if match.name != tv.name:
            changes.append(f"{tv.label} changed from {_quote(match.name)} to {_quote(tv.name)}")
        if match.volume != tv.volume and tv.volume is not None:
            changes.append(
                f"{tv.label} {_quote(tv.name)} volume {match.volume or 0}% -> {tv.volume}%"
            )
        if match.spans != tv.spans:
            changes.append(f"{tv.label} {_quote(tv.name)} now {_span_text(tv).split(', ')[0]}")
    changes.extend(f"removed {o.label} track {_quote(o.name)}" for o in unmatched)
    old_len, new_len = total_seconds(before), total_seconds(after)
    if old and abs(old_len - new_len) >= 0.05:
        changes.append(f"duration {_seconds(old_len * 1000)}s -> {_seconds(new_len * 1000)}s")
    size_before = (before.meta.get("width"), before.meta.get("height"))
    size_after = (after.meta.get("width"), after.meta.get("height"))
    if old and size_before != size_after and all(size_after):
        changes.append(f"canvas now {size_after[0]}x{size_after[1]}")
    for key in ("title",):
        if old and before.meta.get(key) != after.meta.get(key) and after.meta.get(key):
            if not any("title" in c.lower() for c in changes):
                changes.append(f"title now {_quote(str(after.meta[key]))}")
    return changes


def _quote(name: str) -> str:
    return name if name.startswith('"') else f"'{name}'"


def _at(tv: TrackView) -> str:
    return f" at {tv.volume}%" if tv.label in ("BGM", "Voice") and tv.volume is not None else ""
