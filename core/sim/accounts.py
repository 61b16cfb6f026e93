"""Who may call the local backend: anonymous users, their tokens, credits and sessions.

The two "everything so far" faults are kept as serial-number cut-offs rather than by deleting
anything: while `expire_tokens` is on, tokens issued before it was switched on answer 1001, and
the same holds for sessions and 1002. Switching a fault off brings them back, which keeps a
demo recoverable; a client sees exactly what the real service would show while it is on.

Strict as the real service: a client id holds one valid anonymous token at a time (asking again
while it is valid is refused, HTTP 429), an address gets `address_token_limit` anonymous tokens
per 7 days, anonymous tokens carry the scopes read/write/upload (no `render`), and API tokens
(`register`, `POST /_sim/api-token`) carry `render` too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.sim.draft import Json, empty_draft

TOKEN_LIFETIME = timedelta(days=7)
ANONYMOUS_SCOPES = frozenset({"read", "write", "upload"})
API_SCOPES = ANONYMOUS_SCOPES | {"render"}
ANONYMOUS_CREDITS = 100
REGISTERED_CREDITS = 10_000


@dataclass(eq=False)
class User:
    id: str
    anonymous: bool
    available: int
    frozen: int = 0

    def balance(self) -> Json:
        return {
            "available": self.available,
            "frozen": self.frozen,
            "total": self.available + self.frozen,
        }


@dataclass(eq=False)
class Token:
    value: str
    user: User
    serial: int
    expires_at: datetime
    scopes: frozenset[str] = ANONYMOUS_SCOPES

    def expires_text(self) -> str:
        return self.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(eq=False)
class Session:
    """One agent conversation: its timeline and what was uploaded into it."""

    id: str
    task_id: str
    user: User
    language: str
    serial: int
    draft: Json = field(default_factory=empty_draft)
    video_infos: list[Json] = field(default_factory=list)
    generated_media: list[Json] = field(default_factory=list)
    busy: bool = False
    turns: int = 0
    asked: str | None = None  # the prompt a pending question was about


class Accounts:
    """Tokens, users and sessions, with the expiry and drop faults applied on lookup."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._tokens: dict[str, Token] = {}
        self._by_client: dict[str, Token] = {}
        self._users_by_client: dict[str, User] = {}
        self._sessions: dict[str, Session] = {}
        self._by_address: dict[str, list[datetime]] = {}
        self._serial = 0
        self._tasks = 0
        self.tokens_expired_below: int | None = None
        self.sessions_dropped_below: int | None = None
        self.default_credits: int | None = None

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _hex(self, digits: int) -> str:
        return f"{self._rng.getrandbits(digits * 4):0{digits}x}"

    def _issue(
        self, user: User, value: str | None = None, scopes: frozenset[str] = ANONYMOUS_SCOPES
    ) -> Token:
        token = Token(
            value=value or f"nmv_usr_{self._hex(32)}",
            user=user,
            serial=self._next_serial(),
            expires_at=datetime.now(UTC).replace(microsecond=0) + TOKEN_LIFETIME,
            scopes=scopes,
        )
        self._tokens[token.value] = token
        return token

    def anonymous_token(self, client_id: str, address: str = "", limit: int = 0) -> Token | str:
        """A new token, or why not (answered 429): the client id still holds a valid one, or
        the address had `limit` tokens within 7 days (0: no limit). A renewal after the token
        lapsed keeps the same anonymous user and their credits."""
        current = self._by_client.get(client_id)
        if current is not None and self._valid(current):
            return "this client already holds a valid token: keep it until it expires"
        now = datetime.now(UTC)
        recent = [at for at in self._by_address.get(address, []) if now - at < TOKEN_LIFETIME]
        if limit and len(recent) >= limit:
            return f"at most {limit} anonymous tokens per address every 7 days"
        self._by_address[address] = [*recent, now]
        user = self._users_by_client.get(client_id)
        if user is None:
            credits = ANONYMOUS_CREDITS if self.default_credits is None else self.default_credits
            user = User(id=f"anon_{self._hex(16)}", anonymous=True, available=credits)
            self._users_by_client[client_id] = user
        token = self._issue(user)
        self._by_client[client_id] = token
        return token

    def register(self, value: str | None = None) -> Token:
        """A fixed API token, as a deployment's NEMO_TOKEN: a registered (paid) user."""
        credits = REGISTERED_CREDITS if self.default_credits is None else self.default_credits
        user = User(id=f"user_{self._hex(16)}", anonymous=False, available=credits)
        return self._issue(user, value, API_SCOPES)

    def _valid(self, token: Token) -> bool:
        if token.expires_at <= datetime.now(UTC):
            return False
        cut_off = self.tokens_expired_below
        return cut_off is None or token.serial >= cut_off

    def token(self, value: str) -> Token | None:
        token = self._tokens.get(value)
        return token if token is not None and self._valid(token) else None

    def expire_tokens(self, on: bool) -> None:
        self.tokens_expired_below = self._next_serial() if on else None

    def drop_sessions(self, on: bool) -> None:
        self.sessions_dropped_below = self._next_serial() if on else None

    def set_credits(self, credits: int | None) -> None:
        """Sets every user's available balance (frozen credits stay frozen)."""
        self.default_credits = credits
        if credits is None:
            return
        for token in self._tokens.values():
            token.user.available = credits

    def new_session(self, user: User, language: str) -> Session:
        self._tasks += 1
        session_id = str(self._rng.randrange(10**18, 10**19))
        session = Session(
            id=session_id,
            task_id=f"task_{self._tasks}",
            user=user,
            language=language,
            serial=self._next_serial(),
        )
        self._sessions[session_id] = session
        return session

    def session(self, session_id: str, user: User) -> Session | None:
        """The user's session, or None when unknown, dropped, or someone else's."""
        session = self._sessions.get(session_id)
        if session is None or session.user is not user:
            return None
        cut_off = self.sessions_dropped_below
        return session if cut_off is None or session.serial >= cut_off else None
