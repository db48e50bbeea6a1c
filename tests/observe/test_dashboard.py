"""The Grafana dashboard and the documented queries read metrics the gateway really exposes."""

from __future__ import annotations

import httpx
import orjson

from tests.conftest import AUTH
from tests.observe.queries import (
    DASHBOARD,
    METRIC,
    dashboard_queries,
    documented_queries,
    exposed_names,
)

ASK = {"messages": [{"role": "user", "content": "hi"}]}


def test_the_dashboard_is_grafana_json_with_panels() -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    assert dashboard["title"] == "qwq-gateway" and dashboard["uid"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) >= 10 and len(set(ids)) == len(ids)
    for panel in dashboard["panels"]:
        assert panel["targets"] and panel["datasource"]["uid"] == "${DS_PROMETHEUS}"


async def test_every_metric_a_query_reads_is_exposed(client: httpx.AsyncClient) -> None:
    await client.post("/qwq-32b", json=ASK, headers=AUTH)
    page = (await client.get("/metrics")).text
    exposed = exposed_names(page)
    queries = dashboard_queries() + documented_queries()
    assert len(documented_queries()) >= 4
    read = {name for query in queries for name in METRIC.findall(query)}
    assert read and read <= exposed, f"queried but not exposed: {read - exposed}"
    # And the dashboard shows every family the gateway exposes (per-key ones are off by default).
    families = {n for n in exposed if not n.endswith(("_bucket", "_sum", "_count"))}
    shown = {n for n in families if any(n in q for q in dashboard_queries())}
    assert families - shown == set(), f"not on the dashboard: {families - shown}"
