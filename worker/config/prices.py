"""The model table's prices as one list, by model slug and by target name (`slug#n`).

Built once at start-up; every part of the gateway that prices a request looks it up with
`worker.core.cost.price_of`, so they all agree on what a request cost.
"""

from __future__ import annotations

from worker.config.models import ModelTable
from worker.core.cost import Prices, choose


def price_list(table: ModelTable) -> dict[str, Prices]:
    """Model slug and target name (`slug#1`, `slug#2`...) to prices; a target without prices of its
    own has its model's."""
    prices: dict[str, Prices] = {}
    for entry in table.entries.values():
        model = Prices(entry.price_input_per_m, entry.price_output_per_m)
        prices[entry.slug] = model
        for index, target in enumerate(entry.targets):
            own = Prices(target.price_input_per_m, target.price_output_per_m)
            prices[f"{entry.slug}#{index + 1}"] = choose(own, model)
    return prices
