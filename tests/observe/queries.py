"""The PromQL the docs and the Grafana dashboard show, and the metric names each one reads."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from tests.docs.pages import DOCS, blocks

DASHBOARD = DOCS / "grafana" / "qwq-gateway.json"
METRIC = re.compile(r"\b((?:qwq_gateway|gen_ai)_[a-z_]+)\b")


def documented_queries() -> list[str]:
    """The ```text blocks of docs/operations.md: every one is a PromQL query."""
    return [b.code.strip() for b in blocks(DOCS / "operations.md") if b.lang == "text"]


def dashboard_queries() -> list[str]:
    dashboard = orjson.loads(Path(DASHBOARD).read_bytes())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def exposed_names(page: str) -> set[str]:
    """Every series name a `/metrics` page can hold, from its `# TYPE` lines (a counter never incremented
    has no sample, but has its type line)."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\w+)$", page, flags=re.M):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names
