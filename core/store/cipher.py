"""Backend secrets at rest (tokens and the client ids that mint them): Fernet-encrypted when
`JUPITER_SECRET_KEY` is set, plain otherwise.

Any string works as a key (it is stretched with SHA-256 into a Fernet key), so a stolen database
file holds no usable token, nor a client id to mint one, without it. The setting may be a
comma-separated list for rotation: the first key encrypts, every one decrypts (`MultiFernet`),
so a new key goes first and an old one stays listed until every row was rewritten. Rows written
before a key was set still read, and are encrypted on their next write (or by `seal` at start).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

_PREFIX = "enc1:"


class SecretKeyError(ValueError):
    """A stored secret this process cannot open: the key is missing, wrong or rotated away."""


class Cipher(Protocol):
    @property
    def keyed(self) -> bool:
        """True when values are encrypted on write."""
        ...

    def encrypt(self, plain: str) -> str: ...
    def decrypt(self, stored: str) -> str: ...
    def stale(self, stored: str) -> bool: ...


def is_sealed(stored: str) -> bool:
    """Whether a stored value was written encrypted."""
    return stored.startswith(_PREFIX)


class PlainCipher:
    keyed = False

    def encrypt(self, plain: str) -> str:
        return plain

    def decrypt(self, stored: str) -> str:
        if is_sealed(stored):
            raise SecretKeyError("this token was stored encrypted: set JUPITER_SECRET_KEY")
        return stored

    def stale(self, stored: str) -> bool:
        return False  # without a key there is nothing better to write


class FernetCipher:
    keyed = True

    def __init__(self, secret: str) -> None:
        keys = [part.strip() for part in secret.split(",") if part.strip()]
        if not keys:
            raise SecretKeyError("JUPITER_SECRET_KEY holds no key")
        fernets = [
            Fernet(base64.urlsafe_b64encode(hashlib.sha256(k.encode()).digest())) for k in keys
        ]
        self._primary = fernets[0]
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plain: str) -> str:
        return _PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(_PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretKeyError("a stored token does not match JUPITER_SECRET_KEY") from None

    def stale(self, stored: str) -> bool:
        """True when `stored` is plain or under a key other than the first (to rewrite)."""
        if not is_sealed(stored):
            return True
        try:
            self._primary.decrypt(stored[len(_PREFIX) :].encode())
        except InvalidToken:
            return True
        return False


def make_cipher(secret: str | None) -> Cipher:
    return FernetCipher(secret) if secret and secret.strip() else PlainCipher()
