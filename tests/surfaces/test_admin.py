"""The admin API on a live gateway, against both stores: keys, roles, validation, usage, no secret shown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import AUTH
from tests.redis_server import RedisServer
from tests.servers import LiveServer

KEYS = "/admin/v1/keys"


@pytest.fixture(params=["sqlite", "redis"])
def gateway(
    request: pytest.FixtureRequest, tmp_path: Path, live_gateway_factory: Callable[..., LiveServer]
) -> Iterator[LiveServer]:
    if request.param == "sqlite":
        yield live_gateway_factory(state_url=f"sqlite:///{tmp_path / 'state.db'}")
        return
    server = RedisServer(tmp_path)
    server.start()
    gateway = live_gateway_factory(state_url=server.url)
    try:
        yield gateway
    finally:
        gateway.stop()  # before its store, so that its last flush has somewhere to go
        server.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create(gateway: LiveServer, **body: object) -> dict[str, object]:
    r = httpx.post(f"{gateway.url}{KEYS}", json={"name": "ci", **body}, headers=AUTH)
    assert r.status_code == 201, r.text
    data: dict[str, object] = r.json()
    return data


def test_a_created_key_works_at_once_and_its_secret_is_shown_only_then(gateway: LiveServer) -> None:
    made = create(gateway, models=["qwq-32b"], metadata={"team": "search"}, rpm=60, budget_usd=5)
    key = str(made["key"])
    assert key.startswith(f"qwq_{made['id']}_") and made["status"] == "active" and made["role"] == "user"
    assert made["budget_period"] == "month" and made["metadata"] == {"team": "search"}
    r = httpx.post(f"{gateway.url}/qwq-32b", json={"prompt": "hi"}, headers=bearer(key))
    assert r.status_code == 200 and r.json()["response"]
    secret = key.split("_", 2)[2]
    listed = httpx.get(f"{gateway.url}{KEYS}", headers=AUTH)
    one = httpx.get(f"{gateway.url}{KEYS}/{made['id']}", headers=AUTH)
    assert listed.status_code == one.status_code == 200
    assert [k["id"] for k in listed.json()["data"]] == [made["id"]]
    for text in (listed.text, one.text):
        assert secret not in text and '"key":' not in text


def test_roles_a_user_key_gets_403_and_no_key_401(gateway: LiveServer) -> None:
    user = str(create(gateway)["key"])
    admin = str(create(gateway, role="admin")["key"])
    assert httpx.get(f"{gateway.url}{KEYS}", headers=bearer(user)).status_code == 403
    assert httpx.get(f"{gateway.url}{KEYS}").status_code == 401
    assert httpx.get(f"{gateway.url}{KEYS}", headers=bearer("wrong")).status_code == 401
    r = httpx.get(f"{gateway.url}{KEYS}", headers=bearer(admin))
    assert r.status_code == 200 and len(r.json()["data"]) == 2
    assert set(httpx.get(f"{gateway.url}{KEYS}", headers=bearer(user)).json()) == {"error", "detail"}


def test_every_malformed_body_is_a_clear_400(gateway: LiveServer) -> None:
    for body, says in BAD_BODIES:
        r = httpx.post(f"{gateway.url}{KEYS}", json=body, headers=AUTH)
        assert r.status_code == 400 and says in r.json()["detail"], (body, r.text)
    r = httpx.post(f"{gateway.url}{KEYS}", content=b"{not json", headers=AUTH)
    assert r.status_code == 400 and r.json()["error"] == "Invalid JSON"
    made = create(gateway)
    r = httpx.patch(f"{gateway.url}{KEYS}/{made['id']}", json={"tpm": -1}, headers=AUTH)
    assert r.status_code == 400 and "'tpm'" in r.json()["detail"]
    r = httpx.post(f"{gateway.url}{KEYS}/{made['id']}/rotate", json={"overlap_seconds": -5}, headers=AUTH)
    assert r.status_code == 400 and "overlap_seconds" in r.json()["detail"]
    for method in ("GET", "PATCH", "DELETE"):
        r = httpx.request(method, f"{gateway.url}{KEYS}/ffffffffffff", json={}, headers=AUTH)
        assert r.status_code == 404 and r.json()["detail"] == "No key with id 'ffffffffffff'"


BAD_BODIES: list[tuple[object, str]] = [
    ({}, "'name' is required"),
    ({"name": "x", "role": "root"}, "'role' must be"),
    ({"name": "x", "models": ["gpt-9"]}, "Unknown model(s) in 'models': gpt-9"),
    ({"name": "x", "rpm": 0}, "'rpm' must be a whole number"),
    ({"name": "x", "expires_at": "next week"}, "'expires_at' must be an ISO 8601 time"),
    ({"name": "x", "budget_period": "year"}, "'budget_period' must be"),
    ({"name": "x", "secret": "mine"}, "Unknown field(s): secret"),
    ([1, 2], "The body must be a JSON object"),
]


def test_update_revoke_and_rotate(gateway: LiveServer) -> None:
    made = create(gateway)
    key_id, key = made["id"], str(made["key"])
    r = httpx.patch(f"{gateway.url}{KEYS}/{key_id}", json={"name": "renamed", "models": []}, headers=AUTH)
    assert r.status_code == 200 and r.json()["name"] == "renamed"
    rotated = httpx.post(f"{gateway.url}{KEYS}/{key_id}/rotate", json={"overlap_seconds": 60}, headers=AUTH)
    assert rotated.status_code == 200 and rotated.json()["previous_secret_valid_until"]
    new_key = rotated.json()["key"]
    assert new_key != key and new_key.startswith(f"qwq_{key_id}_")
    for usable in (key, new_key):  # both during the overlap
        assert (
            httpx.post(f"{gateway.url}/qwq-32b", json={"prompt": "hi"}, headers=bearer(usable)).status_code
            == 200
        )
    revoked = httpx.delete(f"{gateway.url}{KEYS}/{key_id}", headers=AUTH)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    r = httpx.post(f"{gateway.url}/qwq-32b", json={"prompt": "hi"}, headers=bearer(new_key))
    assert r.status_code == 401 and "revoked" in r.text
    assert httpx.post(f"{gateway.url}{KEYS}/{key_id}/rotate", headers=AUTH).status_code == 409
    assert httpx.patch(f"{gateway.url}{KEYS}/{key_id}", json={"name": "y"}, headers=AUTH).status_code == 409


def test_a_key_limited_to_models_gets_403_for_others_and_expired_keys_401(gateway: LiveServer) -> None:
    limited = str(create(gateway, models=["qwq-32b"])["key"])
    assert (
        httpx.post(f"{gateway.url}/qwq-32b", json={"prompt": "hi"}, headers=bearer(limited)).status_code
        == 200
    )
    expired = str(create(gateway, expires_at="2020-01-01T00:00:00Z")["key"])
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "qwq-32b", "messages": [{"role": "user", "content": "x"}]},
        headers=bearer(expired),
    )
    assert r.status_code == 401 and "expired" in r.text


def test_usage_is_accounted_per_key_and_model_with_cost(gateway: LiveServer) -> None:
    made = create(gateway)
    key = str(made["key"])
    chat = {"model": "qwq-32b", "messages": [{"role": "user", "content": "count me"}]}
    answers = [
        httpx.post(f"{gateway.url}/v1/chat/completions", json=chat, headers=bearer(key)).json()
        for _ in range(3)
    ]
    assert all(a["usage"]["estimated_cost"] > 0 for a in answers)
    streamed = httpx.post(f"{gateway.url}/qwq-32b", json={"prompt": "s", "stream": True}, headers=bearer(key))
    assert streamed.status_code == 200 and "estimated_cost" in streamed.text
    httpx.post(
        f"{gateway.url}/qwq-32b", json={"prompt": 5}, headers=bearer(key)
    )  # a 400, counted as an error
    r = httpx.get(
        f"{gateway.url}/admin/v1/usage", params={"key_id": str(made["id"]), "group_by": "key"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    [row] = r.json()["data"]
    assert row["requests"] == 5 and row["errors"] == 1
    expected_cost = sum(a["usage"]["estimated_cost"] for a in answers)
    assert row["cost_usd"] >= expected_cost and row["prompt_tokens"] >= sum(
        a["usage"]["prompt_tokens"] for a in answers
    )
    csv = httpx.get(
        f"{gateway.url}/admin/v1/usage", params={"format": "csv", "group_by": "model"}, headers=AUTH
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert (
        csv.text.splitlines()[0]
        == "key_id,model,period,requests,errors,prompt_tokens,completion_tokens,reasoning_tokens,cost_usd"
    )
    assert csv.text.splitlines()[1].startswith(",qwq-32b,,5,1,")
    for bad in ({"group_by": "week"}, {"format": "xml"}, {"from": "yesterday"}, {"colour": "red"}):
        r = httpx.get(f"{gateway.url}/admin/v1/usage", params=bad, headers=AUTH)
        assert r.status_code == 400 and r.json()["detail"], bad


def test_a_key_asking_for_a_model_it_may_not_use_gets_403_in_each_surfaces_shape(
    tmp_path: Path, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    table = tmp_path / "models.toml"
    table.write_text(
        "\n".join(
            f'[models.{slug}]\n[[models.{slug}.targets]]\nadapter = "simulator"\nmodel = "Qwen/QwQ-32B"\n'
            for slug in ("qwq-32b", "other")
        )
    )
    gateway = live_gateway_factory(models_file=str(table), state_url=f"sqlite:///{tmp_path / 's.db'}")
    key = str(create(gateway, models=["qwq-32b"])["key"])
    ask = {"messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(f"{gateway.url}/qwq-32b", json=ask, headers=bearer(key)).status_code == 200
    slug = httpx.post(f"{gateway.url}/other", json=ask, headers=bearer(key))
    assert slug.status_code == 403 and "may not use the model 'other'" in slug.text
    chat = httpx.post(
        f"{gateway.url}/v1/chat/completions", json={"model": "other", **ask}, headers=bearer(key)
    )
    assert chat.status_code == 403 and chat.json()["error"]["code"] == "forbidden"
    cf = httpx.post(f"{gateway.url}/client/v4/accounts/a/ai/run/other", json=ask, headers=bearer(key))
    assert cf.status_code == 403 and cf.json()["errors"][0]["code"] == 10000
    anthropic = httpx.post(
        f"{gateway.url}/v1/messages",
        json={"model": "other", "max_tokens": 50, **ask},
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
    )
    assert anthropic.status_code == 403 and anthropic.json()["error"]["type"] == "permission_error"
