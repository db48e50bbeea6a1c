"""Usage accounting: sums per group, what a client that left is charged, bounded pending sums, an outage."""

from __future__ import annotations

import time

from tests.redis_server import RedisServer
from worker.config.models import ModelTable
from worker.core.cost import Prices
from worker.core.ir import ChatRequest, Message, Usage
from worker.core.outcome import RequestRecord
from worker.observe import hooks
from worker.observe.metrics import Metrics
from worker.store import Store, open_store
from worker.store.base import UsageQuery
from worker.store.recorder import UsageRecorder
from worker.store.report import usage_rows

PRICES = {"qwq-32b#1": Prices(0.66, 1.00), "qwq-32b": Prices(0.66, 1.00)}


def finished(status: int = 200, usage: Usage | None = None, **fields: object) -> RequestRecord:
    record = RequestRecord("rid", "POST", "/qwq-32b", surface="workers", model="qwq-32b", key_id="k1")
    record.target, record.status, record.usage, record.duration = "qwq-32b#1", status, usage, 0.5
    for name, value in fields.items():
        setattr(record, name, value)
    return record


async def test_requests_are_summed_priced_and_written_in_one_batch(store: Store) -> None:
    recorder = UsageRecorder(store, PRICES)
    for _ in range(3):
        recorder(finished(usage=Usage(1000, 2000, reasoning_tokens=500)))
    recorder(finished(status=500))
    recorder(RequestRecord("rid", "GET", "/healthz", status=200))  # no surface: not accounted
    assert len(recorder.pending) == 1
    assert await recorder.flush()
    assert not recorder.pending
    [row] = await usage_rows(store, UsageQuery(group_by="key"))
    assert row["requests"] == 4 and row["errors"] == 1
    assert (row["prompt_tokens"], row["completion_tokens"], row["reasoning_tokens"]) == (3000, 6000, 1500)
    assert row["cost_usd"] == round(3 * (1000 * 0.66 + 2000 * 1.00) / 1e6, 10)


async def test_a_client_that_left_is_charged_for_what_was_generated(store: Store) -> None:
    recorder = UsageRecorder(store, PRICES)
    request = ChatRequest("qwq-32b", messages=(Message(role="user", content="hello there"),))
    recorder(finished(status=499, generated_chars=400, request=request))
    await recorder.flush()
    [row] = await usage_rows(store, UsageQuery(group_by="key"))
    assert row["errors"] == 1 and row["completion_tokens"] == 100 and row["prompt_tokens"] > 0
    assert row["cost_usd"] > 0


async def test_full_pending_sums_drop_new_groups_and_never_block(store: Store) -> None:
    recorder = UsageRecorder(store, PRICES, max_pending=2)
    metrics = Metrics(ModelTable({}))
    hooks.install(metrics)
    try:
        for key in ("a", "b", "c", "c"):
            recorder(finished(usage=Usage(1, 1), key_id=key))
    finally:
        hooks.install(None)
    assert len(recorder.pending) == 2 and recorder.dropped == 2
    assert b"qwq_gateway_usage_dropped_total 2.0" in metrics.render()  # exported as a metric too
    recorder(finished(usage=Usage(1, 1), key_id="a"))  # an existing group still counts
    assert recorder.pending[next(iter(recorder.pending))][0] == 2


async def test_usage_waits_out_a_store_outage_and_is_written_when_it_returns(tmp_path: object) -> None:
    server = RedisServer(tmp_path)  # type: ignore[arg-type]
    server.start()
    store = open_store(server.url)
    try:
        recorder = UsageRecorder(store, PRICES)
        recorder(finished(usage=Usage(10, 10)))
        server.stop()
        assert not await recorder.flush()
        recorder(finished(usage=Usage(10, 10)))
        assert sum(v[0] for v in recorder.pending.values()) == 2
        server.start()  # same port: the store is back
        deadline = time.monotonic() + 10
        while not await recorder.flush():
            assert time.monotonic() < deadline
        [row] = await usage_rows(store, UsageQuery(group_by="key"))
        assert row["requests"] == 2 and row["prompt_tokens"] == 20
    finally:
        await store.aclose()
        server.stop()
