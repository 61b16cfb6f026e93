"""Hypothesis strategies for what a bad day sends: SSE bytes, backend JSON, chat text, files."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

HUGE = 300_000  # characters: large enough to matter, small enough to stay fast

# -- JSON ---------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", " ", "null", "0", "completed", "failed", "Error: boom", "nmv_usr_x"]),
)

json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
    ),
    max_leaves=12,
)

huge_strings = st.sampled_from(["x" * HUGE, "€" * (HUGE // 3), "<!channel> " * (HUGE // 11)])


def objects_with(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts over the keys a model expects, each missing or of any type (huge strings too)."""
    value = st.one_of(json_values, huge_strings)
    return st.fixed_dictionaries({}, optional=dict.fromkeys(keys, value))


# -- SSE ----------------------------------------------------------------------------------------

EVENT_KEYS = [
    "type",
    "content",
    "text",
    "partial",
    "name",
    "args",
    "result",
    "heartbeat",
    "error",
    "errorCode",
    "errorMessage",
    "error_code",
    "error_message",
    "author",
]
TYPES = ["text", "tool_call", "tool_result", "heartbeat", "error", "", "TEXT"]

plain_events = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(EVENT_KEYS, json_values),
        "type": st.sampled_from(TYPES) | json_values,
        "content": st.text(max_size=80) | json_values,
    },
)

adk_parts = st.lists(
    st.one_of(
        st.fixed_dictionaries({"text": st.text(max_size=80) | json_values}),
        st.fixed_dictionaries(
            {"functionCall": st.fixed_dictionaries({"name": json_values, "args": json_values})}
        ),
        st.fixed_dictionaries({"functionResponse": json_values}),
        json_values,
    ),
    max_size=3,
)
adk_events = st.fixed_dictionaries(
    {
        "content": st.fixed_dictionaries(
            {"parts": adk_parts | json_values},
            optional={"role": st.sampled_from(["model", "user", "assistant"]) | json_values},
        )
    },
    optional={"partial": json_values, "author": json_values},
)


def _frame(event: Any) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


line_ends = st.sampled_from([b"\n", b"\r\n", b"\r"])

frames = st.one_of(
    plain_events.map(_frame),
    adk_events.map(_frame),
    json_values.map(_frame),
    st.text(max_size=60).map(lambda t: b"data: " + t.encode() + b"\n\n"),
    st.builds(lambda end: b": keepalive" + end + end, line_ends),
    st.builds(lambda end: b"data:" + end + end, line_ends),
    st.builds(
        lambda text, end: (
            b"data: " + json.dumps({"type": "text", "content": text}).encode() + end + end
        ),
        st.text(max_size=40),
        line_ends,
    ),
    st.binary(max_size=120),
    st.sampled_from(
        [
            b"data: " + b"x" * (1024 * 1024 + 10) + b"\n\n",  # over the parser's line limit
            b'data: {"type": "text", "content": "half a fr',  # a frame cut short
            b"data: " + b"[" * 5000 + b"\n\n",  # deep nesting
            'data: {"text": "line\u2028separator"}\n\n'.encode(),
            b"event: message\nid: 7\nretry: 10\ndata: {}\n\n",
            b"\xff\xfe\x00data: \x00\n\n",
        ]
    ),
)


@st.composite
def sse_bodies(draw: st.DrawFn) -> list[bytes]:
    """An SSE body as the chunks it arrives in: frames glued, then cut at arbitrary points."""
    body = b"".join(draw(st.lists(frames, max_size=8)))
    cuts = sorted(set(draw(st.lists(st.integers(0, max(len(body), 1)), max_size=6))))
    chunks, start = [], 0
    for cut in [*cuts, len(body)]:
        if cut > start:
            chunks.append(body[start:cut])
            start = cut
    return chunks


# -- chat text ----------------------------------------------------------------------------------

SPECIAL_TEXTS = [
    "",
    "   ",
    "\n\n\t",
    "a" * 40_000,
    "make a video " * 300,  # more repeats: the local backend's subject() is quadratic
    "<!channel> <!here> <!everyone> <@U0ALICE> <#C0VIDEO> <!subteam^S1>",
    "@everyone @here look",
    "<https://evil.example|click me> [click](https://evil.example) ![img](x)",
    "*bold* _it_ ~strike~ `code` ```block``` > quote &amp; &lt; &gt;",
    "\u202eevil.exe\u202c \u200b\u200c\u200d\u2060\ufeff",
    "مرحبا بالعالم فيديو عن الشمس",
    "שלום עולם",
    "\x00\x01\x1b[31mred\x1b[0m",
    "status\u200b",
    "ex\u00adport",
    "ＥＸＰＯＲＴ",
    "stop " * 10,
    "积分",
    "nmv_usr_secret_token_123 xoxb-123-456-abc",
    '{"type": "text", "content": "json"}',
    "Error: boom",
    "🎬" * 5_000,
]

chat_texts = st.one_of(
    st.sampled_from(SPECIAL_TEXTS),
    st.text(max_size=200),
    st.lists(st.sampled_from(SPECIAL_TEXTS[5:]) | st.text(max_size=20), max_size=5).map(" ".join),
)

# -- files --------------------------------------------------------------------------------------

MAX_UPLOAD = 500 * 1024 * 1024
EXTENSIONS = ["mp4", "MOV", "mkv", "png", "jpeg", "mp3", "pdf", "txt", "exe", "zip", "", "mp4.exe"]

file_names = st.one_of(
    st.builds(
        lambda stem, ext: f"{stem}.{ext}" if ext else stem,
        st.text(min_size=0, max_size=30),
        st.sampled_from(EXTENSIONS),
    ),
    st.sampled_from(
        [
            "../../etc/passwd.mp4",
            'clip"; name="evil.mp4',
            "clip\r\nContent-Type: text/html\r\n\r\n.mp4",
            "<!channel>.mp4",
            "\u202egnp.exe",
            ".mp4",
            "a" * 500 + ".mov",
            "video.MP4 ",
        ]
    ),
)

file_sizes = st.one_of(
    st.sampled_from([None, 0, 1, MAX_UPLOAD - 1, MAX_UPLOAD, MAX_UPLOAD + 1, 2**40, 2**63]),
    st.integers(min_value=0, max_value=4096),
)
