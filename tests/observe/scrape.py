"""Reading a `/metrics` page in tests: one sample's value by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(page: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(page: str, name: str, **labels: str) -> float:
    """The sample `name` with exactly these labels (0 when absent: a counter never incremented)."""
    return samples(page).get((name, frozenset(labels.items())), 0.0)


def total(page: str, name: str, **labels: str) -> float:
    """The sum of every sample `name` whose labels include these."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples(page).items() if n == name and wanted <= ls)
