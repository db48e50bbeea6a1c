"""Bearer-key authentication, in constant time, to an `Identity` (`worker.core.identity`).

Static keys (`API_KEYS`) are compared as SHA-256 digests against every configured key, without stopping
at the first match, so neither a key's length nor its position shows in the response time. They are
named `static-1`, `static-2`, ... by position (never by anything derived from the secret); the first is
the admin key. Managed keys (`qwq_<id>_<secret>`) are looked up by their public id in a per-process
cache (`worker.store.keycache`), which this module knows only as `ManagedKeys`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Protocol

from worker.core.errors import Forbidden, Unauthorized
from worker.core.identity import ANONYMOUS, Identity
from worker.web.asgi import Scope

MANAGED_PREFIX = "qwq_"


class UnknownKey(Unauthorized):
    """A managed key whose id this process has not cached: the endpoint may look it up once and retry."""

    def __init__(self, key_id: str) -> None:
        super().__init__(detail="The API key is not valid")
        self.key_id = key_id


class ManagedKeys(Protocol):
    def identify(self, token: str) -> Identity:
        """The identity of a managed key, or raise `Unauthorized` (`UnknownKey` when not cached)."""
        ...


class KeyLookup(Protocol):
    async def fetch(self, key_id: str) -> None:
        """Read one managed key this process has not cached yet (`worker.store.keycache.KeyCache`)."""
        ...


class KeyRing:
    __slots__ = ("_digests", "_identities", "managed", "open")

    def __init__(
        self, keys: Iterable[str], *, allow_anyone: bool = False, managed: ManagedKeys | None = None
    ) -> None:
        self._digests = tuple(hashlib.sha256(k.encode()).digest() for k in keys)
        self._identities = tuple(
            Identity(f"static-{n}", "admin" if n == 1 else "user") for n in range(1, len(self._digests) + 1)
        )
        self.managed = managed
        self.open = allow_anyone and not self._digests

    def identify(self, presented: str) -> Identity | None:
        """The identity of a valid key, `None` for an unknown one; raises for a managed key that is
        revoked, expired or not cached (`UnknownKey`)."""
        if self.managed is not None and presented.startswith(MANAGED_PREFIX):
            return self.managed.identify(presented)
        digest = hashlib.sha256(presented.encode()).digest()
        found = -1
        for index, known in enumerate(self._digests):
            if hmac.compare_digest(known, digest):
                found = index
        return self._identities[found] if found >= 0 else None

    def identify_quietly(self, presented: str) -> Identity | None:
        """`identify`, with `None` for a managed key that is revoked or expired; a managed key not
        cached yet still raises `UnknownKey`, so the endpoint can look it up."""
        try:
            return self.identify(presented)
        except UnknownKey:
            raise
        except Unauthorized:
            return None

    def check(self, presented: str) -> bool:
        try:
            return self.identify(presented) is not None
        except Unauthorized:
            return False


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


def authenticate(keys: KeyRing, authorization: str | None) -> Identity:
    if keys.open:
        return ANONYMOUS
    identity = keys.identify(bearer_token(authorization))
    if identity is None:
        raise Unauthorized(detail="The API key is not valid")
    return identity


async def identify_bearer(keys: KeyRing, lookup: KeyLookup | None, authorization: str | None) -> Identity:
    """The identity of the bearer key in `authorization`; `Unauthorized` (401) for a missing, unknown,
    revoked or expired key. A managed key created on another process since this one last looked is read
    through `lookup` once, then checked again."""
    token = bearer_token(authorization)
    try:
        identity = keys.identify(token)
    except UnknownKey as miss:
        if lookup is None:
            raise
        await lookup.fetch(miss.key_id)
        identity = keys.identify(token)
    if identity is None:
        raise Unauthorized(detail="The API key is not valid")
    return identity


async def require_admin_key(keys: KeyRing, lookup: KeyLookup | None, authorization: str | None) -> Identity:
    """`identify_bearer`, and `Forbidden` (403) unless the key's role is admin: the first of `API_KEYS`
    or a managed key created with the `admin` role. The one rule for every admin endpoint (the
    key-management API, the console's live log)."""
    identity = await identify_bearer(keys, lookup, authorization)
    if not identity.is_admin:
        raise Forbidden(detail="This endpoint needs an admin key")
    return identity
