"""What a request cost at the model table's prices, for metrics and the JSON access line.

A small helper of this package's own: a figure for operators, computed from the record's usage after
the answer; accounting that bills keys has its own. A target's prices, when it has any, override its
model's (a failover target may be dearer than the first).
"""

from __future__ import annotations

from worker.config.models import ModelTable
from worker.core.outcome import RequestRecord


class Prices:
    __slots__ = ("_per_million",)

    def __init__(self, table: ModelTable | None = None) -> None:
        # (input, output) US dollars per million tokens, by model slug and by target name (`slug#n`).
        self._per_million: dict[str, tuple[float, float]] = {}
        for entry in table.entries.values() if table is not None else ():
            model_prices = (entry.price_input_per_m, entry.price_output_per_m)
            self._per_million[entry.slug] = model_prices
            for index, target in enumerate(entry.targets):
                own = (target.price_input_per_m, target.price_output_per_m)
                self._per_million[f"{entry.slug}#{index + 1}"] = own if any(own) else model_prices

    def cost(self, record: RequestRecord) -> float:
        """US dollars for the usage the client was sent; 0 without usage or prices."""
        usage = record.usage
        if usage is None:
            return 0.0
        prices = self._per_million.get(record.target) or self._per_million.get(record.model)
        if prices is None:
            return 0.0
        return (usage.prompt_tokens * prices[0] + usage.completion_tokens * prices[1]) / 1_000_000
