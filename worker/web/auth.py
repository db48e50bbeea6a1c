"""Bearer-key authentication, in constant time.

Keys are compared as SHA-256 digests against every configured key, without stopping at the first
match, so neither a key's length nor its position in `API_KEYS` shows in the response time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from worker.core.errors import Unauthorized
from worker.web.asgi import Scope


class KeyRing:
    __slots__ = ("_digests", "open")

    def __init__(self, keys: Iterable[str], *, allow_anyone: bool = False) -> None:
        self._digests = tuple(hashlib.sha256(k.encode()).digest() for k in keys)
        self.open = allow_anyone and not self._digests

    def check(self, presented: str) -> bool:
        digest = hashlib.sha256(presented.encode()).digest()
        matched = False
        for known in self._digests:
            matched |= hmac.compare_digest(known, digest)
        return matched


def credential(scope: Scope, name: bytes) -> str | None:
    """The value of the credential header `name`, or None; two different values are refused (401).

    Why: with two `Authorization` headers, which one counts depends on who reads them. A proxy in front
    may check the first while the gateway reads another, so a request could pass one gate with a key
    the other never saw. Repeating the same value is harmless and accepted."""
    found: bytes | None = None
    for key, value in scope["headers"]:
        if key == name:
            if found is not None and value != found:
                shown = name.decode("latin-1")
                raise Unauthorized(detail=f"The request carries more than one '{shown}' header")
            found = value
    return None if found is None else found.decode("latin-1")


def bearer_token(authorization: str | None) -> str:
    """The key from an `Authorization: Bearer <key>` header, or raise `Unauthorized` saying what is wrong."""
    if not authorization:
        raise Unauthorized(detail="Send the header 'Authorization: Bearer <api_key>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(detail="The Authorization header must have the form 'Bearer <api_key>'")
    return token


def authenticate(keys: KeyRing, authorization: str | None) -> None:
    if keys.open:
        return
    if not keys.check(bearer_token(authorization)):
        raise Unauthorized(detail="The API key is not valid")
