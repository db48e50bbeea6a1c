"""What a request cost, for metrics, the JSON access line and the console: the record's usage at the
model table's prices, priced by `worker.core.cost` as the usage accounting prices it.
"""

from __future__ import annotations

from worker.config.models import ModelTable
from worker.config.prices import price_list
from worker.core.cost import price_of
from worker.core.outcome import RequestRecord


class Prices:
    __slots__ = ("_prices",)

    def __init__(self, table: ModelTable | None = None) -> None:
        self._prices = price_list(table) if table is not None else {}

    def cost(self, record: RequestRecord) -> float:
        """US dollars for the usage the client was sent; 0 without usage or prices."""
        usage = record.usage
        if usage is None:
            return 0.0
        prices = price_of(self._prices, record.target, record.model)
        return prices.cost(usage.prompt_tokens, usage.completion_tokens)
