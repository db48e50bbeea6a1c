"""A model's own limits (the model table's `rpm`, `tpm`, `max_concurrency`): parsed, shared by every
key, decided with the key's in one admission, answered in each surface's shape, kept in memory when
there is no store, and refused where they could not hold exactly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import AUTH, make_settings
from tests.servers import free_port
from tests.test_cli import run_cli
from worker.app import create_app
from worker.config.models import load_table, parse_table
from worker.config.settings import SettingsError
from worker.core.identity import NO_LIMITS, Limits
from worker.limits.deployment import check_exact

CHAT = {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}


def table_text(limits: str) -> str:
    return (
        f'[models.qwq-32b]\ncloudflare_id = "@cf/qwen/qwq-32b"\n{limits}\n'
        '[[models.qwq-32b.targets]]\nadapter = "simulator"\n'
    )


def models_file(tmp_path: Path, limits: str) -> str:
    path = tmp_path / "models.toml"
    path.write_text(table_text(limits))
    return str(path)


def test_the_model_table_reads_a_models_limits() -> None:
    data = {"models": {"m": {"rpm": 600, "tpm": 400000, "targets": [{"adapter": "simulator"}]}}}
    assert parse_table(data, {}).entries["m"].limits == Limits(rpm=600, tpm=400000)
    data = {"models": {"m": {"targets": [{"adapter": "simulator"}]}}}
    assert parse_table(data, {}).entries["m"].limits is NO_LIMITS


@pytest.mark.parametrize(("line", "said"), [("rpm = 0", "at least 1"), ('tpm = "many"', "must be int")])
def test_a_bad_model_limit_stops_start_up_naming_its_line(tmp_path: Path, line: str, said: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_table(make_settings(models_file=models_file(tmp_path, line)))
    assert said in str(raised.value) and "line 3" in str(raised.value)


def test_model_limits_without_a_store_refuse_every_deployment_of_more_than_one_process(
    tmp_path: Path,
) -> None:
    table = load_table(make_settings(models_file=models_file(tmp_path, "rpm = 5")))
    check_exact(table, False, 1, {}, "linux")  # one process: exact in its memory
    check_exact(table, True, 8, {"WEB_CONCURRENCY": "8"}, "linux")  # a store: exact everywhere
    for workers, environ, platform, said in [
        (2, {}, "linux", "--workers 2"),
        (1, {"WEB_CONCURRENCY": "4"}, "linux", "WEB_CONCURRENCY=4"),
        (1, {}, "emscripten", "Cloudflare Worker"),
    ]:
        with pytest.raises(SettingsError) as raised:
            check_exact(table, False, workers, environ, platform)
        assert said in str(raised.value) and "'qwq-32b'" in str(raised.value)
    plain = load_table(make_settings())
    check_exact(plain, False, 4, {"WEB_CONCURRENCY": "4"}, "emscripten")  # no limits: nothing to hold


@pytest.fixture
async def off(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway without a state store, serving a model with `rpm` 2 and `max_concurrency` 5."""
    settings = make_settings(
        state_url="off", models_file=models_file(tmp_path, "rpm = 2\nmax_concurrency = 5")
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def test_without_a_store_one_process_holds_a_models_rpm_for_every_key(
    off: httpx.AsyncClient,
) -> None:
    first = await off.post("/v1/chat/completions", json=CHAT, headers=AUTH)
    assert first.status_code == 200
    # The key has no limits of its own: no rate-limit headers (they describe the key's allowance).
    assert "x-ratelimit-limit-requests" not in first.headers
    second = await off.post("/qwq-32b", json={"prompt": "hi"}, headers=AUTH)
    assert second.status_code == 200
    refused = await off.post("/v1/chat/completions", json=CHAT, headers=AUTH)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert "x-ratelimit-remaining-requests" not in refused.headers
    error = refused.json()["error"]
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded"
    assert "on the model 'qwq-32b' (2, shared by all API keys)" in error["message"]
    anthropic = await off.post(
        "/v1/messages",
        json={"model": "qwq-32b", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": AUTH["Authorization"][7:], "anthropic-version": "2023-06-01"},
    )
    assert anthropic.status_code == 429 and anthropic.json()["error"]["type"] == "rate_limit_error"
    assert "model 'qwq-32b'" in anthropic.json()["error"]["message"]
    cloudflare = await off.post(
        "/client/v4/accounts/acct/ai/run/@cf/qwen/qwq-32b", json={"prompt": "hi"}, headers=AUTH
    )
    assert cloudflare.status_code == 429 and cloudflare.json()["errors"][0]["code"] == 3040
    metrics = await off.get("/metrics", headers=AUTH)
    assert 'qwq_gateway_rate_limited_total{limit="model_requests"} 3.0' in metrics.text


async def test_a_models_limit_and_a_keys_are_decided_together(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    settings = make_settings(models_file=models_file(tmp_path, "rpm = 3"))
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as gateway:
        made = await gateway.post("/admin/v1/keys", json={"name": "k", "rpm": 1}, headers=AUTH)
        bearer = {"Authorization": f"Bearer {made.json()['key']}"}
        ok = await gateway.post("/v1/chat/completions", json=CHAT, headers=bearer)
        assert ok.status_code == 200 and ok.headers["x-ratelimit-remaining-requests"] == "0"
        # Refused by the key's own limit: its headers, its message; the model's slot is not taken.
        by_key = await gateway.post("/v1/chat/completions", json=CHAT, headers=bearer)
        assert by_key.status_code == 429 and "this API key" in by_key.json()["error"]["message"]
        assert by_key.headers["x-ratelimit-limit-requests"] == "1"
        statuses = [
            (await gateway.post("/v1/chat/completions", json=CHAT, headers=AUTH)).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]  # 3 for the model: one went to the limited key


def test_the_command_refuses_workers_without_a_store_when_a_model_has_limits(tmp_path: Path) -> None:
    env = {"API_KEYS": "k", "STATE_URL": "off", "MODELS_FILE": models_file(tmp_path, "tpm = 100000")}
    process = run_cli(env, "--workers", "2", "--port", str(free_port()))
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 2 and "Traceback" not in out
    line = out.strip()
    assert "\n" not in line
    assert line.startswith("qwq-gateway: the limits of model 'qwq-32b' cannot hold across --workers 2")
    assert "STATE_URL" in line
