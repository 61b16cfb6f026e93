"""The exception hierarchy drawn in core/errors.py's docstring is the one the code defines."""

from __future__ import annotations

import pytest

from core import errors
from core.errors import NemoError, error_for_code


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (1001, errors.TokenRejected),
        (1002, errors.SessionNotFound),
        (2001, errors.OutOfCredits),
        (4001, errors.UnsupportedFileType),
        (4002, errors.FileTooLarge),
        (402, errors.ExportBlocked),
        (429, errors.RateLimited),
        (400, errors.MissingClientId),
        (409, errors.TurnBusy),
    ],
)
def test_codes_map_to_classes(code: int, cls: type[NemoError]) -> None:
    error = error_for_code(code, "backend words")
    assert type(error) is cls
    assert error.code == code == cls.code
    assert error.message == "backend words"


def test_unknown_codes_stay_plain_and_keep_their_number() -> None:
    error = error_for_code(7777, "")
    assert type(error) is NemoError
    assert error.code == 7777
    assert error.message == "backend error 7777"


def test_the_drawn_hierarchy() -> None:
    parents = {
        "TokenRejected": "NemoError",
        "SessionNotFound": "NemoError",
        "OutOfCredits": "NemoError",
        "FileRejected": "NemoError",
        "UnsupportedFileType": "FileRejected",
        "FileTooLarge": "FileRejected",
        "ExportBlocked": "NemoError",
        "RateLimited": "NemoError",
        "MissingClientId": "NemoError",
        "TurnBusy": "NemoError",
        "TurnFailed": "NemoError",
        "RenderFailed": "NemoError",
        "RenderTimedOut": "RenderFailed",
        "ProtocolError": "NemoError",
        "BackendUnavailable": "NemoError",
        "TurnTimedOut": "BackendUnavailable",
        "StreamInterrupted": "BackendUnavailable",
    }
    doc = errors.__doc__ or ""
    for name, parent in parents.items():
        cls = getattr(errors, name)
        assert cls.__bases__ == (getattr(errors, parent),), name
        assert name in doc, name


def test_a_message_defaults_to_the_class_name() -> None:
    assert errors.RenderTimedOut().message == "RenderTimedOut"
    assert errors.TurnFailed("x", code=5).code == 5
