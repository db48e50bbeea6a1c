"""The benchmark's verdicts (scripts/bench/verdicts.py): ratios of rows of one run against each target."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_verdicts", BENCH / "verdicts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the classes
    spec.loader.exec_module(module)
    return module


verdicts = _load()


def row(name: str, rate: float, cpu: float = 0.3, p50: float = 0.5, **extra: Any) -> dict[str, Any]:
    return {"name": name, "c32": {"rate": rate, "cpu_ms_per_request": cpu}, "c1": {"p50_ms": p50}, **extra}


def outcomes(rows: list[dict[str, Any]]) -> dict[str, tuple[str, float | None]]:
    return {v.target.name: (v.outcome, v.value) for v in verdicts.judge(rows)}


def test_a_ratio_at_the_bound_passes_and_below_it_misses() -> None:
    thin = row(verdicts.THIN, 1000, cpu=0.300)
    at = outcomes([thin, row(verdicts.SLUG, 850, cpu=0.360)])
    assert at["/qwq-32b req/s at c=32 vs thin reference"] == ("PASS", 0.85)
    assert at["/qwq-32b CPU per request vs thin reference"][0] == "PASS"
    below = outcomes([thin, row(verdicts.SLUG, 849, cpu=0.361)])
    assert below["/qwq-32b req/s at c=32 vs thin reference"][0] == "MISS"
    assert below["/qwq-32b CPU per request vs thin reference"][0] == "MISS"


def test_latency_compares_what_each_row_adds_to_the_direct_row() -> None:
    rows = [
        row(verdicts.DIRECT, 60000, p50=0.1),
        row(verdicts.THIN, 1000, p50=0.5),
        row(verdicts.SLUG, 900, p50=0.7),
    ]
    outcome, value = outcomes(rows)["/qwq-32b added p50 latency at c=1 vs thin reference"]
    assert outcome == "MISS"
    assert value is not None and abs(value - 1.5) < 1e-9  # (0.7 - 0.1) / (0.5 - 0.1), not 0.7 / 0.5


def test_a_missing_or_failed_row_is_never_a_pass() -> None:
    rows = [row(verdicts.SLUG, 900), {"name": verdicts.LITELLM, "error": "could not start"}]
    found = outcomes(rows)
    assert found["/qwq-32b req/s vs LiteLLM proxy"] == ("n/a", None)
    assert found["/qwq-32b req/s at c=32 vs thin reference"] == ("n/a", None)


def test_fixed_bounds_and_rows_printed_without_a_target() -> None:
    slug = row(verdicts.SLUG, 1000, sse512={"cpu_us_per_event": 8.5})
    found = outcomes([slug, row(verdicts.WORKERS_2, 1500)])
    assert found["/qwq-32b CPU µs per event, 512-event streams"] == ("MISS", 8.5)
    assert found["--workers 2 vs 1: req/s at c=32"] == ("INFO", 1.5)


def test_the_table_has_one_line_per_target() -> None:
    lines: list[str] = []
    verdicts.print_verdicts([row(verdicts.THIN, 1000), row(verdicts.SLUG, 900)], lines.append)
    table = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert len(table) == len(verdicts.TARGETS)
    assert "| /qwq-32b req/s at c=32 vs thin reference | 0.9x | >= 0.85x | PASS | 1x |" in table


def test_a_rate_ratio_is_also_read_from_cpu_per_request() -> None:
    found = verdicts.judge([row(verdicts.THIN, 1000, cpu=0.3), row(verdicts.SLUG, 1100, cpu=0.4)])
    rate = next(v for v in found if v.target.name == "/qwq-32b req/s at c=32 vs thin reference")
    assert rate.outcome == "PASS" and rate.by_cpu is not None and abs(rate.by_cpu - 0.75) < 1e-9


def test_every_paired_couple_is_the_two_rows_of_a_target_and_nothing_else_is_paired() -> None:
    """The rows measured turn about (`run.run_pair`) are exactly those a target compares with each other
    alone; a renamed row would otherwise silently fall back to being measured apart."""
    compared = {frozenset((t.row, t.against)) for t in verdicts.TARGETS if t.against}
    assert verdicts.PAIRED
    for first, second in verdicts.PAIRED:
        assert first != second
        assert frozenset((first, second)) in compared
    named = [name for couple in verdicts.PAIRED for name in couple]
    assert len(named) == len(set(named))  # a row is in one couple at most
