"""The benchmark's tables (Markdown, so docs/performance.md can show them as printed) and verdicts.

"Added" figures are the contender's minus the direct (nginx) figure of the same run.
Usage on its own: `python scripts/bench/report.py bench-results/latest.json`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from verdicts import print_verdicts


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _get(row: dict[str, Any], *path: str) -> Any:
    value: Any = row
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _minus(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a - b


def _load(value: Any) -> str:
    return f"{value[0]:.2f}" if value else "-"


def _load_range(rows: list[dict[str, Any]]) -> str:
    seen = [row["load"][0] for row in rows if row.get("load")]
    return f"{min(seen):.2f} to {max(seen):.2f}" if seen else "-"


def print_tables(results: dict[str, Any]) -> None:
    rows: list[dict[str, Any]] = results.get("rows", [])
    direct = rows[0] if rows else {}
    m = results.get("machine", {})
    print(
        f"\nMachine: {m.get('cpu')} ({m.get('cores')} cores), Python {m.get('python')}; "
        f"{results.get('started')} to {results.get('finished')}; load average (1 min) "
        f"{_load(results.get('load_before'))} before, {_load(results.get('load_after'))} after, "
        f"{_load_range(rows)} while rows were measured"
    )
    print(
        "\nRequests (non-streamed, ~600-byte answer). Added = minus direct; "
        "CPU from the server's /proc stat.\n"
    )
    print(
        "| contender | +p50 c=1 ms | +p99 c=1 ms | req/s c=32 | p99 c=32 ms | req/s c=128 | p99 c=128 ms "
        "| CPU ms/req |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        if "error" in row or "skipped" in row:
            print(f"| {row['name']} | {row.get('error') or row.get('skipped')} |||||||")
            continue
        is_direct = row is direct
        p50 = (
            _get(row, "c1", "p50_ms")
            if is_direct
            else _minus(_get(row, "c1", "p50_ms"), _get(direct, "c1", "p50_ms"))
        )
        p99 = (
            _get(row, "c1", "p99_ms")
            if is_direct
            else _minus(_get(row, "c1", "p99_ms"), _get(direct, "c1", "p99_ms"))
        )
        label = " (absolute)" if is_direct else ""
        print(
            f"| {row['name']}{label} | {_f(p50, 3)} | {_f(p99, 3)} | {_f(_get(row, 'c32', 'rate'), 0)} "
            f"| {_f(_get(row, 'c32', 'p99_ms'))} | {_f(_get(row, 'c128', 'rate'), 0)} "
            f"| {_f(_get(row, 'c128', 'p99_ms'))} | {_f(_get(row, 'c32', 'cpu_ms_per_request'), 3)} |"
        )
    print("\nStreams and memory. TTFE = time to first event (added); CPU per event from a c=8 run.\n")
    print(
        "| contender | +TTFE 64 ms | CPU µs/event 64 | +TTFE 512 ms | CPU µs/event 512 | RSS idle MB "
        "| RSS after N requests MB | KB per open stream |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        if "error" in row or "skipped" in row:
            continue
        is_direct = row is direct
        cells = []
        for kind in ("sse64", "sse512"):
            if _get(row, kind, "error"):
                cells += [row[kind]["error"], "-"]
                continue
            ttfe = _get(row, kind, "ttfe_ms")
            cells.append(_f(ttfe if is_direct else _minus(ttfe, _get(direct, kind, "ttfe_ms")), 3))
            cells.append(_f(_get(row, kind, "cpu_us_per_event"), 1))
        idle = _get(row, "rss_idle_kb")
        soak = row.get("soak") or {}
        soak_cell = "-"
        if soak:
            soak_cell = (
                f"{soak['rss_after_kb'] / 1024:.1f} (from {soak['rss_before_kb'] / 1024:.1f}, "
                f"N={soak['requests']:,})"
            )
        hold = row.get("hold") or {}
        hold_cell = f"{_f(hold.get('kb_per_stream'), 1)} ({hold.get('opened', 0)} open)" if hold else "-"
        label = " (absolute)" if is_direct else ""
        print(
            f"| {row['name']}{label} | {' | '.join(cells)} | {_f(idle / 1024 if idle else None, 1)} "
            f"| {soak_cell} | {hold_cell} |"
        )
    print_observe_cost(rows)
    validation = results.get("validation", {})
    if "error" in validation:
        print(f"\nValidation cost: error {validation['error']}")
    elif validation:
        print(
            f"\nValidation per body: typical {validation['typical_us']:.1f} µs; "
            f"100 messages + 8 tools {validation['long_tools_us']:.1f} µs"
        )
    print_verdicts(rows)


def print_observe_cost(rows: list[dict[str, Any]]) -> None:
    """Metrics + JSON logs against both off, from the two `observe` rows of the same run."""
    named = {row["name"]: row for row in rows if "error" not in row and "skipped" not in row}
    off = next((r for n, r in named.items() if n.startswith("observe off")), None)
    on = next((r for n, r in named.items() if n.startswith("observe on")), None)
    if off is None or on is None:
        return
    print("\nObservability cost (metrics + JSON logs on, against both off; same run):\n")
    for cell in ("c32", "c128"):
        rate_off, rate_on = _get(off, cell, "rate"), _get(on, cell, "rate")
        if rate_off and rate_on:
            print(
                f"- req/s at {cell[1:]} connections: {rate_on:,.0f} vs {rate_off:,.0f} "
                f"({(1 - rate_on / rate_off) * 100:+.1f}% cost)"
            )
    cpu_off, cpu_on = _get(off, "c32", "cpu_ms_per_request"), _get(on, "c32", "cpu_ms_per_request")
    if cpu_off and cpu_on:
        print(
            f"- CPU per request at 32 connections: {cpu_on:.3f} ms vs {cpu_off:.3f} ms "
            f"({(cpu_on / cpu_off - 1) * 100:+.1f}%)"
        )


if __name__ == "__main__":
    print_tables(json.loads(Path(sys.argv[1]).read_text()))
