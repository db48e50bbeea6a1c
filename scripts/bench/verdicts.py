"""The benchmark's targets and their verdicts, computed from the rows of one run (docs/performance.md).

Each target compares one figure of one row with the same figure of another row of the same run (a
ratio), or with a fixed bound. A target whose rows are missing or failed gets `n/a`, never PASS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DIRECT = "direct (nginx, the floor)"
THIN = "thin reference (plain Response, JSON rewritten)"
SLUG = "qwq-gateway /qwq-32b"
WORKERS_2 = "qwq-gateway /qwq-32b --workers 2"
OBSERVE_OFF = "observe off (no metrics, text logs) /qwq-32b"
OBSERVE_ON = "observe on (metrics, JSON logs) /qwq-32b"
STATIC = "qwq-gateway static key, no store"
MANAGED = "qwq-gateway managed key, {}"
FEATURES = "qwq-gateway features on (managed key, limits, usage, metrics), {}"
LITELLM = "LiteLLM proxy"
PORTKEY = "Portkey gateway (Node)"

PAIRED = (
    (OBSERVE_OFF, OBSERVE_ON),
    (MANAGED.format("SQLite"), FEATURES.format("SQLite")),
    (MANAGED.format("Redis"), FEATURES.format("Redis")),
)
"""Rows a target compares with each other alone: measured side by side, their c=32 cells turn about
(`run.run_pair`), so that the machine's drift during a run cannot decide the verdict."""

RATE = ("c32", "rate")
CPU = ("c32", "cpu_ms_per_request")
P50_C1 = ("c1", "p50_ms")


@dataclass(frozen=True)
class Target:
    name: str
    row: str
    cell: tuple[str, ...]
    bound: float
    """`row`'s figure / `against`'s (or the figure itself without `against`) must be >= or <= this."""
    against: str | None = None
    at_most: bool = False
    """The figure must stay at or below `bound` (CPU, latency, memory); otherwise at or above."""
    report_only: bool = False
    """A figure printed for reading, with no target (`--workers 2` against 1)."""
    added: bool = False
    """Compare what each row adds to the direct row's figure (latency), not the figures themselves."""


@dataclass(frozen=True)
class Verdict:
    target: Target
    value: float | None
    """The ratio (or the figure, for a target without `against`); None when a row is missing."""
    by_cpu: float | None = None
    """For a req/s ratio: the same ratio read from CPU per request (the other row's over this row's),
    what the rates would be were both bound by their one core; steadier on a busy machine."""

    @property
    def outcome(self) -> str:
        if self.value is None:
            return "n/a"
        if self.target.report_only:
            return "INFO"
        ok = self.value <= self.target.bound if self.target.at_most else self.value >= self.target.bound
        return "PASS" if ok else "MISS"

    def line(self) -> str:
        t = self.target
        sign = "<=" if t.at_most else ">="
        wanted = "(no target)" if t.report_only else f"{sign} {t.bound:g}{'x' if t.against else ''}"
        shown = "-" if self.value is None else f"{self.value:.3g}{'x' if t.against else ''}"
        by_cpu = "-" if self.by_cpu is None else f"{self.by_cpu:.3g}x"
        return f"| {t.name} | {shown} | {wanted} | {self.outcome} | {by_cpu} |"


def _targets() -> list[Target]:
    out = [
        Target("/qwq-32b req/s at c=32 vs thin reference", SLUG, RATE, 0.85, THIN),
        Target("/qwq-32b CPU per request vs thin reference", SLUG, CPU, 1.2, THIN, at_most=True),
        Target(
            "/qwq-32b added p50 latency at c=1 vs thin reference", SLUG, P50_C1, 1.0, THIN, True, added=True
        ),
    ]
    for surface in ("/v1/chat/completions", "/v1/messages", "/v1/responses"):
        out.append(Target(f"{surface} req/s vs /qwq-32b", f"qwq-gateway {surface}", RATE, 0.9, SLUG))
    for store, bound in (("SQLite", 0.75), ("Redis", 0.7)):
        out.append(
            Target(
                f"features on, {store}: req/s vs thin reference", FEATURES.format(store), RATE, bound, THIN
            )
        )
    for store in ("SQLite", "Redis"):
        out.append(
            Target(
                f"managed key, {store}: req/s vs static key, no store",
                MANAGED.format(store),
                RATE,
                0.9,
                STATIC,
            )
        )
    for store in ("SQLite", "Redis"):
        name = f"limits on vs off, {store}: req/s"
        out.append(Target(name, FEATURES.format(store), RATE, 0.85, MANAGED.format(store)))
    out += [
        Target("observe on vs off: req/s (<= 5% cost)", OBSERVE_ON, RATE, 0.95, OBSERVE_OFF),
        Target("--workers 2 vs 1: req/s at c=32", WORKERS_2, RATE, 0.0, SLUG, report_only=True),
        Target("/qwq-32b req/s vs LiteLLM proxy", SLUG, RATE, 50, LITELLM),
        Target("/qwq-32b req/s vs Portkey gateway", SLUG, RATE, 4, PORTKEY),
        Target(
            "/qwq-32b CPU µs per event, 512-event streams",
            SLUG,
            ("sse512", "cpu_us_per_event"),
            8,
            at_most=True,
        ),
        Target(
            "/qwq-32b KB per open stream vs thin reference",
            SLUG,
            ("hold", "kb_per_stream"),
            1.0,
            THIN,
            at_most=True,
        ),
    ]
    return out


TARGETS: Sequence[Target] = _targets()


def figure(rows: dict[str, dict[str, Any]], name: str, cell: tuple[str, ...]) -> float | None:
    value: Any = rows.get(name)
    for key in cell:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def judge(rows: Sequence[dict[str, Any]], targets: Sequence[Target] = TARGETS) -> list[Verdict]:
    named = {row["name"]: row for row in rows if "error" not in row and "skipped" not in row}
    out = []
    for target in targets:
        value = figure(named, target.row, target.cell)
        base = figure(named, target.against, target.cell) if target.against else None
        if target.added:
            floor = figure(named, DIRECT, target.cell)
            value = value - floor if value is not None and floor is not None else None
            base = base - floor if base is not None and floor is not None else None
        if target.against is not None:
            value = value / base if value is not None and base else None
        by_cpu = None
        if target.cell == RATE and target.against is not None:
            mine, theirs = figure(named, target.row, CPU), figure(named, target.against, CPU)
            by_cpu = theirs / mine if mine and theirs else None
        out.append(Verdict(target, value, by_cpu))
    return out


def print_verdicts(rows: Sequence[dict[str, Any]], write: Callable[[str], None] = print) -> list[Verdict]:
    verdicts = judge(rows)
    write("\nTargets (ratios of rows of this run):\n")
    write("| target | measured | wanted | verdict | same ratio from CPU per request |")
    write("|---|---|---|---|---|")
    for verdict in verdicts:
        write(verdict.line())
    return verdicts
