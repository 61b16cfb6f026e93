"""The SSE parser over every way a stream can be cut, and `decode_event` over every payload shape.

The parser must give the same events however the bytes are split into reads, for any line ending,
and must never raise or grow without bound, whatever the backend sends.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from core.models import (
    ErrorEvent,
    HeartbeatEvent,
    TextEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from core.sse import MAX_LINE_BYTES, SSEParser, decode_event, iter_sse

STREAM = (
    b": connected\n\n"
    b'data: {"type":"text","content":"Hello"}\n\n'
    b"data:\n\n"
    b'data: {"type":"tool_call",\n'
    b'data: "name":"edit_multitrack","args":{}}\n\n'
    b"event: message\nid: 7\nretry: 100\n"
    b'data:{"text":"no space"}\n\n'
    b"data: plain words\n\n"
    b'data: {"text":"line\xe2\x80\xa8sep\xe2\x80\xa9para \xe4\xb8\x80"}\n\n'
)
EXPECTED = [
    None,
    '{"type":"text","content":"Hello"}',
    None,
    '{"type":"tool_call",\n"name":"edit_multitrack","args":{}}',
    '{"text":"no space"}',
    "plain words",
    '{"text":"line\u2028sep\u2029para 一"}',
]
ENDINGS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


def parse(chunks: Iterable[bytes], max_line: int = MAX_LINE_BYTES) -> list[str | None]:
    parser = SSEParser(max_line)
    out: list[str | None] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out + parser.close()


def with_ending(stream: bytes, ending: str) -> bytes:
    return stream.replace(b"\n", ENDINGS[ending])


def test_a_whole_stream() -> None:
    assert parse([STREAM]) == EXPECTED


def test_every_line_ending_gives_the_same_events() -> None:
    for ending in ENDINGS:
        assert parse([with_ending(STREAM, ending)]) == EXPECTED, ending


def test_split_at_every_byte_offset() -> None:
    for ending in ENDINGS:
        stream = with_ending(STREAM, ending)
        for cut in range(len(stream) + 1):
            assert parse([stream[:cut], stream[cut:]]) == EXPECTED, (ending, cut)


def test_split_at_every_pair_of_offsets() -> None:
    stream = b'data: {"a":\r\ndata: 1}\r\n\r\n: c\r\r\ndata:\r\n\r\ndata: \xe2\x80\xa8\n\n'
    expected = ['{"a":\n1}', None, None, "\u2028"]
    for first in range(len(stream) + 1):
        for second in range(first, len(stream) + 1):
            chunks = [stream[:first], stream[first:second], stream[second:]]
            assert parse(chunks) == expected, (first, second)


def test_one_byte_reads_with_empty_reads_between() -> None:
    for ending in ENDINGS:
        stream = with_ending(STREAM, ending)
        chunks = [piece for i in range(len(stream)) for piece in (stream[i : i + 1], b"")]
        assert parse(chunks) == EXPECTED, ending


def test_crlf_split_across_reads() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\ndata: b\r\n") == []
    assert parser.feed(b"\r") == ["a\nb"]
    assert parser.feed(b"\n") == []
    assert parser.close() == []


def test_an_empty_read_between_cr_and_lf_changes_nothing() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"") == []
    assert parser.feed(b"\ndata: b\r\n\r\n") == ["a\nb"]


def test_two_crs_are_two_line_ends() -> None:
    assert parse([b"data: a\r\rdata: b\r\r"]) == ["a", "b"]


def test_comments_are_keep_alives_and_do_not_break_an_event() -> None:
    assert parse([b": ping\n\n"]) == [None]
    assert parse([b"data: a\n: note\ndata: b\n\n"]) == [None, "a\nb"]
    assert parse([b":\n"]) == [None]


def test_empty_data_is_a_keep_alive_only_outside_an_event() -> None:
    assert parse([b"data:\n\n", b"data: \n\n"]) == [None, None]
    assert parse([b"data: a\ndata:\ndata: b\n\n"]) == ["a\nb"]


def test_blank_lines_alone_are_nothing() -> None:
    assert parse([b"\n\n\r\n\r\r"]) == []


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert parse([b"data: one\ndata: two\ndata:three\n\n"]) == ["one\ntwo\nthree"]


def test_fields_other_than_data_are_ignored() -> None:
    assert parse([b"event: update\nid: 1\nretry: 5\nfoo\n\n"]) == []


def test_non_json_and_invalid_utf8_pass_through_as_text() -> None:
    assert parse([b"data: [DONE]\n\n", b"data: \xff\xfeok\n\n"]) == ["[DONE]", "\ufffd\ufffdok"]


def test_a_last_event_without_its_blank_line_counts_once() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: tail") == []
    assert parser.close() == ["tail"]
    assert parser.close() == []


def test_line_separators_inside_json_are_kept() -> None:
    text = "a\u2028b\u2029c\x85d\x0be\x0cf"
    frame = b"data: " + json.dumps({"text": text}, ensure_ascii=False).encode() + b"\n\n"
    for cut in range(len(frame) + 1):  # including cuts inside the multi-byte characters
        (data,) = parse([frame[:cut], frame[cut:]])
        assert data is not None
        assert decode_event(data) == [TextEvent(text)]


# -- bounded memory -------------------------------------------------------------------------


def test_a_5_mb_line_in_many_reads_is_dropped_and_the_buffer_stays_capped() -> None:
    parser = SSEParser()
    out = parser.feed(b'data: {"text":"before"}\n\n')
    huge = b"data: " + b"x" * (5 * 1024 * 1024) + b"\n\n"
    after = b'data: {"text":"after"}\n\n'
    stream = huge + after
    step = 64 * 1024
    for start in range(0, len(stream), step):
        out += parser.feed(stream[start : start + step])
        assert len(parser._buffer) <= MAX_LINE_BYTES  # the cap holds after every read
    out += parser.close()
    assert out == ['{"text":"before"}', '{"text":"after"}']


def test_a_5_mb_line_in_one_read_is_dropped_too() -> None:
    huge = b"data: " + b"x" * (5 * 1024 * 1024) + b"\n\n"
    assert parse([huge + b"data: ok\n\n"]) == ["ok"]


def test_an_over_long_line_cut_by_the_end_of_the_stream() -> None:
    stream = b"data: kept\n" + b"data: " + b"y" * 100
    assert parse([stream], max_line=50) == ["kept"]
    assert parse([stream[:20], stream[20:60], stream[60:]], max_line=50) == ["kept"]


def test_a_line_at_the_cap_is_kept_one_byte_more_is_dropped() -> None:
    cap = 32
    at_cap = b"data: " + b"a" * (cap - 6)
    over = at_cap + b"b"
    for line, expected in ((at_cap, ["a" * (cap - 6)]), (over, [])):
        stream = line + b"\n\ndata: next\n\n"
        assert parse([stream], max_line=cap) == expected + ["next"]
        for cut in range(len(stream) + 1):
            assert parse([stream[:cut], stream[cut:]], max_line=cap) == expected + ["next"]


def test_an_event_of_many_lines_over_the_cap_is_dropped_whole() -> None:
    parser = SSEParser(max_line=10_000)
    out: list[str | None] = []
    for _ in range(200):
        out += parser.feed(b"data: " + b"z" * 1000 + b"\n")
        assert sum(len(part) for part in parser._data) <= 10_000
    out += parser.feed(b"\ndata: small\n\n")
    assert out == ["small"]


async def test_iter_sse_over_an_async_byte_stream() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(STREAM), 7):
            yield STREAM[i : i + 7]

    assert [item async for item in iter_sse(chunks())] == EXPECTED


# -- decode_event ---------------------------------------------------------------------------


def test_decode_keep_alive() -> None:
    assert decode_event(None) == [HeartbeatEvent()]


def test_decode_plain_shape() -> None:
    assert decode_event('{"type":"text","content":"hi","partial":true}') == [
        TextEvent("hi", partial=True)
    ]
    assert decode_event('{"type":"text","text":"alt"}') == [TextEvent("alt")]
    assert decode_event('{"type":"tool_call","name":"t","args":{"a":1}}') == [
        ToolCallEvent("t", {"a": 1})
    ]
    assert decode_event('{"type":"tool_call","name":"t","args":"nope"}') == [ToolCallEvent("t")]
    assert decode_event('{"type":"tool_result","name":"t","result":[1]}') == [
        ToolResultEvent("t", [1])
    ]
    assert decode_event('{"type":"heartbeat"}') == [HeartbeatEvent()]
    assert decode_event('{"heartbeat":true}') == [HeartbeatEvent()]


def test_decode_adk_shape() -> None:
    event = {
        "content": {
            "role": "model",
            "parts": [
                {"text": "thinking", "thought": True},
                {"text": "one"},
                {"functionCall": {"name": "f", "args": {"x": 1}}},
                {"functionResponse": {"name": "f", "response": {"ok": True}}},
                "junk",
                {"text": "   "},
            ],
        },
        "author": "nemo_agent",
        "partial": True,
    }
    assert decode_event(json.dumps(event)) == [
        TextEvent("one", partial=True),
        ToolCallEvent("f", {"x": 1}),
        ToolResultEvent("f", {"ok": True}),
    ]


def test_decode_adk_tool_results_come_with_role_user() -> None:
    user = {
        "content": {
            "role": "user",
            "parts": [
                {"text": "echo of the user"},
                {"functionResponse": {"name": "edit_multitrack", "response": {"done": 1}}},
            ],
        }
    }
    assert decode_event(json.dumps(user)) == [ToolResultEvent("edit_multitrack", {"done": 1})]


def test_decode_top_level_text() -> None:
    assert decode_event('{"text":"hello","author":"x"}') == [TextEvent("hello")]
    assert decode_event('{"text":""}') == []


def test_decode_errors() -> None:
    assert decode_event('{"error":"boom"}') == [ErrorEvent("boom")]
    assert decode_event('{"error":{"code":2001,"message":"no credits"}}') == [
        ErrorEvent("no credits", 2001)
    ]
    assert decode_event('{"errorCode":"4001","errorMessage":"bad file"}') == [
        ErrorEvent("bad file", 4001)
    ]
    assert decode_event('{"error_code":7,"error_message":"x"}') == [ErrorEvent("x", 7)]
    assert decode_event('{"errorCode":"E_X"}') == [ErrorEvent("the agent reported an error")]
    assert decode_event('{"errorCode":Infinity,"errorMessage":"inf"}') == [ErrorEvent("inf")]
    assert decode_event('{"type":"text","content":"Error: it broke"}') == [ErrorEvent("it broke")]
    assert decode_event('{"error":null,"text":"fine"}') == [TextEvent("fine")]


def test_decode_the_rest() -> None:
    assert decode_event("plain words") == [TextEvent("plain words")]
    assert decode_event("   ") == []
    assert decode_event('{"broken":') == []
    assert decode_event("[1, 2") == []
    assert decode_event("[1, 2]") == []
    assert decode_event("42") == []
    assert decode_event("null") == []
    assert decode_event('{"unknown":"frame"}') == [HeartbeatEvent()]
    assert decode_event("[" * 100_000) == []


# -- never raises ---------------------------------------------------------------------------

FAST = settings(max_examples=300, deadline=None)
PIECES = st.sampled_from(
    [b"data:", b"data: ", b": c", b"x", b"{", b'"', b"\r", b"\n", b"\r\n", b"\xe2\x80\xa8", b"\xff"]
)


@FAST
@given(st.lists(st.binary(max_size=80), max_size=30))
def test_the_parser_never_raises_on_arbitrary_bytes(chunks: list[bytes]) -> None:
    out = parse(chunks)
    assert all(item is None or isinstance(item, str) for item in out)
    for item in out:
        decode_event(item)


@FAST
@given(
    st.lists(PIECES, max_size=60),
    st.lists(st.integers(0, 200), max_size=8),
    st.sampled_from([8, 24, MAX_LINE_BYTES]),
)
def test_events_do_not_depend_on_how_the_bytes_are_cut(
    pieces: list[bytes], cuts: list[int], max_line: int
) -> None:
    stream = b"".join(pieces)
    bounds = sorted({min(cut, len(stream)) for cut in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *bounds], [*bounds, len(stream)], strict=True)]
    assert parse(chunks, max_line) == parse([stream], max_line)


@FAST
@given(st.text())
def test_decode_never_raises_on_arbitrary_text(text: str) -> None:
    decode_event(text)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["Error: x", "heartbeat", "text", "tool_call", "tool_result", "model"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "content",
                    "text",
                    "name",
                    "args",
                    "result",
                    "partial",
                    "parts",
                    "role",
                    "functionCall",
                    "functionResponse",
                    "response",
                    "thought",
                    "error",
                    "errorCode",
                    "errorMessage",
                    "error_code",
                    "code",
                    "message",
                    "heartbeat",
                ]
            )
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)
EVENTS = (TextEvent, ToolCallEvent, ToolResultEvent, HeartbeatEvent, ErrorEvent)


@FAST
@given(JSON)
def test_decode_never_raises_on_arbitrary_json(value: object) -> None:
    events = decode_event(json.dumps(value))
    assert all(isinstance(event, EVENTS) for event in events)


def test_backend_json_reads_what_the_standard_library_reads() -> None:
    """`loads` takes orjson's fast road and the standard library's for what orjson refuses:
    the results are the same either way."""
    from core.client_envelopes import loads

    assert loads(b'{"a": [1, 2.5, "\xc3\xa9", null, true]}') == {"a": [1, 2.5, "é", None, True]}
    assert loads('{"progress": NaN, "total": 1e999, "left": -Infinity}') == {
        "progress": None,
        "total": None,
        "left": None,
    }
    assert loads('{"text": "half \\ud83d a pair"}') == {"text": "half \ud83d a pair"}
    assert loads(b"\xef\xbb\xbf[1]") == [1]  # a byte-order mark, as json.loads allows in bytes
    assert loads('"\\u0000"') == "\x00"
    assert decode_event('{"text":"lone \\udc00 surrogate"}') == [TextEvent("lone \udc00 surrogate")]
