from __future__ import annotations

import pytest

from worker.core.errors import Unauthorized
from worker.web.auth import KeyRing, authenticate, bearer_token


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
