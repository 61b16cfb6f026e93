"""Backend tokens at rest: Fernet-encrypted when `JUPITER_SECRET_KEY` is set, plain otherwise.

Any string works as the key (it is stretched with SHA-256 into a Fernet key), so a stolen
database file holds no usable token without it. Rows written before the key was set still read.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken

_PREFIX = "enc1:"


class Cipher(Protocol):
    def encrypt(self, plain: str) -> str: ...
    def decrypt(self, stored: str) -> str: ...


class PlainCipher:
    def encrypt(self, plain: str) -> str:
        return plain

    def decrypt(self, stored: str) -> str:
        if stored.startswith(_PREFIX):
            raise ValueError("this token was stored encrypted: set JUPITER_SECRET_KEY")
        return stored


class FernetCipher:
    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))

    def encrypt(self, plain: str) -> str:
        return _PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(_PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored[len(_PREFIX) :].encode()).decode()
        except InvalidToken:
            raise ValueError("a stored token does not match JUPITER_SECRET_KEY") from None


def make_cipher(secret: str | None) -> Cipher:
    return FernetCipher(secret) if secret else PlainCipher()
