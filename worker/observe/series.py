"""Counters, gauges and histograms of one process, without a lock per update.

Why: prometheus-client takes a lock on every `inc` and per histogram observation (1.2 µs and 2.4 µs here),
about 25 µs per request for this gateway's dozen updates, which is several percent of a request's whole
cost. Every update here happens on the event loop thread, as does the scrape, so plain attribute
arithmetic is enough (~0.2 µs). The scrape turns the values into prometheus-client's metric families, so
the page is written by prometheus-client's own exposition code, exactly as for its own metrics.

With several worker processes (multiprocess mode) the values must live in prometheus-client's shared
files instead; `worker.observe.metrics` then uses prometheus-client's own classes, which offer the same
`labels(...)`, `inc`, `dec`, `set` and `observe`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString


class Value:
    """A counter's or a gauge's value for one combination of labels."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = value


class Buckets:
    """A histogram for one combination of labels: a count per bucket (not cumulative until scraped)."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        self.counts[bisect_left(self.bounds, amount)] += 1  # `le`: the first bound >= amount
        self.sum += amount


class Family:
    """One metric and its labelled children; an unlabelled family is its own single child."""

    def __init__(
        self,
        kind: str,
        name: str,
        doc: str,
        labelnames: Sequence[str],
        buckets: Sequence[float] = (),
    ) -> None:
        self.kind = kind
        self.name = name
        self.documentation = doc
        self.labelnames = list(labelnames)
        self.bounds = tuple(float(b) for b in buckets)
        self.children: dict[tuple[str, ...], Any] = {}
        if not self.labelnames:
            self._only = self.labels()

    def labels(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            child = Buckets(self.bounds) if self.kind == "histogram" else Value()
            self.children[values] = child
        return child

    def inc(self, amount: float = 1.0) -> None:
        self._only.inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self._only.dec(amount)

    def metric(self) -> Metric:
        labels = self.labelnames
        if self.kind == "counter":
            family: Any = CounterMetricFamily(self.name, self.documentation, labels=labels)
        elif self.kind == "gauge":
            family = GaugeMetricFamily(self.name, self.documentation, labels=labels)
        else:
            family = HistogramMetricFamily(self.name, self.documentation, labels=labels)
        for values, child in self.children.items():
            if self.kind != "histogram":
                family.add_metric(list(values), child.value)
                continue
            cumulative, buckets = 0, []
            for bound, count in zip((*self.bounds, float("inf")), child.counts, strict=True):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))  # type: ignore[no-untyped-call]
            family.add_metric(list(values), buckets, child.sum)
        return family  # type: ignore[no-any-return]


class Families:
    """A collector of families, registered once in the metrics' registry and read at each scrape."""

    def __init__(self) -> None:
        self.families: list[Family] = []

    def add(self, family: Family) -> Family:
        self.families.append(family)
        return family

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.metric()
