"""Typed views accept every documented shape of an answer."""

from __future__ import annotations

from core.models import Balance, Draft, RenderStatus, SessionInfo, State, Token, UploadResult


def test_session_ids_and_unknown_keys() -> None:
    info = SessionInfo.model_validate({"session_id": 5529798706024415232, "extra": 1})
    assert info.session_id == "5529798706024415232"


def test_token_with_only_a_token() -> None:
    assert Token.model_validate({"token": "nmv_usr_x"}).user_id == ""


def test_balance_total() -> None:
    assert Balance.model_validate({"available": 1, "frozen": 2}).grand_total == 3
    assert Balance.model_validate({"available": 1, "frozen": 2, "total": 10}).grand_total == 10


def test_draft_keeps_its_raw_form_and_reads_the_short_keys() -> None:
    raw = {"t": [{"tt": 1, "sg": [{"d": 1500, "s": 500, "m": {"volume": 35}}], "m": {}}], "zz": 1}
    draft = Draft.model_validate(raw)
    assert draft.raw == raw
    (track,) = draft.tracks
    assert (track.kind, track.segments[0].duration_ms, track.segments[0].start_ms) == (1, 1500, 500)
    assert track.segments[0].meta == {"volume": 35}
    assert draft.ready
    assert Draft.model_validate(None).tracks == []


def test_state_shapes() -> None:
    nested = State.model_validate({"state": {"draft": {"t": [{"tt": 0, "sg": [{"d": 1}]}]}}})
    flat = State.model_validate({"draft": {"t": [{"tt": 0, "sg": [{"d": 1}]}]}})
    assert nested.draft.tracks == flat.draft.tracks
    assert nested.draft.ready and flat.draft.ready
    odd = State.model_validate({"session_id": 7, "video_infos": "x", "canvas_config": []})
    assert (odd.session_id, odd.video_infos, odd.canvas_config) == ("7", [], {})


def test_render_status_shapes() -> None:
    a = RenderStatus.model_validate({"status": "COMPLETED", "outputUrl": "https://a"})
    b = RenderStatus.model_validate({"status": "completed", "output": {"url": "https://b"}})
    c = RenderStatus.model_validate({"status": "completed", "output": "https://c"})
    d = RenderStatus.model_validate({"status": None, "progress": None})
    assert (a.output_url, b.output_url, c.output_url) == ("https://a", "https://b", "https://c")
    assert a.succeeded and b.succeeded and c.succeeded
    assert (d.status, d.progress, d.finished) == ("pending", None, False)  # unknown: keep last
    for bad in (float("nan"), float("inf"), -1, "x", True, None, [1]):
        odd = RenderStatus.model_validate({"progress": bad, "size": bad, "duration": bad})
        assert (odd.progress, odd.size, odd.duration) == (None, None, None)
    assert RenderStatus.model_validate({"progress": 101, "size": "12"}).progress is None
    assert RenderStatus.model_validate({"progress": "42.5", "size": "12"}).size == 12
    failed = RenderStatus.model_validate({"status": "failed"})
    assert failed.finished and not failed.succeeded


def test_upload_result() -> None:
    result = UploadResult.model_validate({"files": [{"filename": "a.mp4", "file_type": "video"}]})
    assert result.files[0].filename == "a.mp4"
    assert not result.session_state_applied
