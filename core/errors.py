"""What can go wrong talking to NemoVideo, as exceptions that carry their user-facing meaning.

    NemoError                       anything the backend or the road to it refused
    ├── TokenRejected               1001/1010/1011 or HTTP 401: token expired or invalid
    │                               (renewed with the same client id and retried once first)
    ├── SessionNotFound             1002: the backend forgot the session (the engine starts a new one)
    ├── OutOfCredits                2001: not enough credits (anonymous users get a register link)
    ├── FileRejected                checked before a byte is sent, or refused by the backend
    │   ├── UnsupportedFileType     4001
    │   └── FileTooLarge            4002 (limit 500 MB)
    ├── ExportBlocked               HTTP 402: the plan tier forbids exports, not a credit problem
    ├── RateLimited                 HTTP 429 that survived the one retry (on the token call:
    │                               only when no stored token is left to use)
    ├── MissingClientId             HTTP 400 on the token call that survived a fresh client id
    ├── TurnBusy                    a turn is already running in that session
    ├── TurnFailed                  the agent reported an error inside the stream
    ├── RenderFailed                the render ended `failed`, was cancelled, or never started
    │   ├── RenderTimedOut          still unfinished after the documented bound
    │   └── DuplicateRenderId       the render id was taken (the caller retries once with a new one)
    ├── ProtocolError               an answer that matches no documented shape
    └── BackendUnavailable          transport errors, 5xx, timeouts
        ├── TurnTimedOut            the turn ran past JUPITER_TURN_TIMEOUT_SECONDS, went silent,
        │                           or sent only heartbeats for `heartbeat_only_seconds`
        └── StreamInterrupted       the stream was lost before the server closed it (reset,
                                    incomplete chunked body): the turn is never re-sent

`code` keeps the backend's number (or the HTTP status) so metrics can count errors by code.
Messages never contain a token: the client builds them from codes and backend text only.
"""

from __future__ import annotations


class NemoError(Exception):
    code: int | None = None

    def __init__(self, message: str = "", *, code: int | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0])


class TokenRejected(NemoError):
    code = 1001


class SessionNotFound(NemoError):
    code = 1002


class OutOfCredits(NemoError):
    code = 2001


class FileRejected(NemoError):
    pass


class UnsupportedFileType(FileRejected):
    code = 4001


class FileTooLarge(FileRejected):
    code = 4002


class ExportBlocked(NemoError):
    code = 402


class RateLimited(NemoError):
    code = 429


class MissingClientId(NemoError):
    code = 400


class TurnBusy(NemoError):
    code = 409


class TurnFailed(NemoError):
    pass


class RenderFailed(NemoError):
    pass


class RenderTimedOut(RenderFailed):
    pass


class DuplicateRenderId(RenderFailed):
    pass


class ProtocolError(NemoError):
    pass


class BackendUnavailable(NemoError):
    pass


class TurnTimedOut(BackendUnavailable):
    pass


class StreamInterrupted(BackendUnavailable):
    pass


_BY_CODE: dict[int, type[NemoError]] = {
    1001: TokenRejected,
    1010: TokenRejected,
    1011: TokenRejected,
    1002: SessionNotFound,
    2001: OutOfCredits,
    4001: UnsupportedFileType,
    4002: FileTooLarge,
    402: ExportBlocked,
    429: RateLimited,
    400: MissingClientId,
    409: TurnBusy,
}


def error_for_code(code: int, message: str) -> NemoError:
    """The exception for a backend error code; unknown codes stay a plain `NemoError`."""
    cls = _BY_CODE.get(code, NemoError)
    return cls(message or f"backend error {code}", code=code)
