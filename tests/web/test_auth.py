from __future__ import annotations

import pytest

from worker.core.errors import Forbidden, Unauthorized
from worker.core.identity import Identity
from worker.web.auth import (
    KeyRing,
    UnknownKey,
    authenticate,
    bearer_token,
    identify_bearer,
    require_admin_key,
)


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc  ") == "abc"
    for bad in (None, "", "Bearer", "Bearer ", "Basic abc", "abc"):
        with pytest.raises(Unauthorized):
            bearer_token(bad)


def test_keyring_accepts_only_configured_keys() -> None:
    ring = KeyRing(["k1", "second-key"])
    assert ring.check("k1") and ring.check("second-key")
    assert not ring.check("k2") and not ring.check("") and not ring.check("k1 ")
    authenticate(ring, "Bearer second-key")
    with pytest.raises(Unauthorized) as info:
        authenticate(ring, "Bearer nope")
    assert info.value.status == 401 and "not valid" in str(info.value.detail)


def test_open_ring_only_when_allowed_and_empty() -> None:
    assert KeyRing([], allow_anyone=True).open
    assert not KeyRing(["k"], allow_anyone=True).open  # configured keys always apply
    authenticate(KeyRing([], allow_anyone=True), None)
    with pytest.raises(Unauthorized):
        authenticate(KeyRing([]), "Bearer anything")


def test_static_keys_are_named_by_position_and_the_first_is_the_admin() -> None:
    from worker.web.auth import KeyRing as Ring

    ring = Ring(["first-key", "second-key"])
    first, second = ring.identify("first-key"), ring.identify("second-key")
    assert first is not None and (first.key_id, first.role) == ("static-1", "admin")
    assert second is not None and (second.key_id, second.role) == ("static-2", "user")
    assert ring.identify("third-key") is None


class _Managed:
    """Managed keys as the key cache holds them: `qwq_<id>_...` known only once fetched."""

    def __init__(self) -> None:
        self.cached: dict[str, Identity] = {}
        self.fetched: list[str] = []

    def identify(self, token: str) -> Identity:
        key_id = token.split("_")[1]
        if key_id not in self.cached:
            raise UnknownKey(key_id)
        return self.cached[key_id]

    async def fetch(self, key_id: str) -> None:
        self.fetched.append(key_id)
        self.cached[key_id] = Identity(key_id, "admin" if key_id.startswith("adm") else "user")


async def test_the_admin_rule_is_one_helper_for_every_admin_endpoint() -> None:
    managed = _Managed()
    ring = KeyRing(["first-is-admin", "second-is-user"], managed=managed)

    async def check(authorization: str | None, lookup: _Managed | None = managed) -> Identity:
        return await require_admin_key(ring, lookup, authorization)

    assert (await check("Bearer first-is-admin")).key_id == "static-1"
    with pytest.raises(Forbidden):
        await check("Bearer second-is-user")
    for wrong in (None, "Bearer nope", "Basic first-is-admin"):
        with pytest.raises(Unauthorized):
            await check(wrong)
    # A managed key created on another process is read once through the lookup, then judged.
    assert (await check("Bearer qwq_adm1_secret")).key_id == "adm1" and managed.fetched == ["adm1"]
    with pytest.raises(Forbidden):
        await check("Bearer qwq_usr1_secret")
    with pytest.raises(UnknownKey):  # without a key cache, an unknown managed key is simply not valid
        await check("Bearer qwq_adm2_secret", None)
    assert (await identify_bearer(ring, managed, "Bearer second-is-user")).key_id == "static-2"
