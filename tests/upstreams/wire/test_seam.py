from __future__ import annotations

from worker.config.models import Target
from worker.upstreams.wire.seam import Timeouts, request_timeout, without_userinfo


def test_targets_without_own_timeouts_use_the_wires() -> None:
    assert request_timeout(Target("openai", "http://x")) is None


def test_a_targets_own_timeouts() -> None:
    timeout = request_timeout(
        Target("openai", "http://x", connect_timeout=2, first_byte_timeout=300, idle_timeout=60)
    )
    assert timeout == Timeouts(connect=2, read=300, write=30.0, pool=2)
    only_idle = request_timeout(Target("openai", "http://x", idle_timeout=9))
    assert only_idle is not None and only_idle.connect is None and only_idle.read == 9


def test_userinfo_is_dropped_from_urls() -> None:
    assert without_userinfo("http://user:pw@up.example:8080/v1?x=1") == "http://up.example:8080/v1?x=1"
    plain = "https://api.example/v1/chat/completions"
    assert without_userinfo(plain) is plain  # the common case costs one `in` test
