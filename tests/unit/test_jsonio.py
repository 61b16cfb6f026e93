"""JSON out: orjson's bytes are the JSON the standard library reads back, and what orjson
refuses (a key that is not a string, an integer past 64 bits) still goes out, compact."""

from __future__ import annotations

import json

from core.jsonio import json_bytes, json_text


def test_bodies_read_back_as_sent_compact_and_in_utf8() -> None:
    blocks = {"channel": "C1", "text": "café <!here> 视频", "blocks": [{"type": "section"}], "n": 3}
    assert json.loads(json_text(blocks)) == blocks
    assert (
        json_bytes(blocks) == json.dumps(blocks, ensure_ascii=False, separators=(",", ":")).encode()
    )


def test_what_orjson_refuses_the_standard_library_encodes() -> None:
    odd = {1: "a key that is not a string", "big": 2**70}
    assert json_text(odd) == '{"1":"a key that is not a string","big":1180591620717411303424}'
