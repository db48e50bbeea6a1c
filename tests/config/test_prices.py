"""One price list for the whole gateway: what the metrics, the JSON access line and the console report
for a request is what the usage accounting books for it."""

from __future__ import annotations

from worker.config.models import parse_table
from worker.config.prices import price_list
from worker.core.cost import Prices, price_of
from worker.core.ir import Usage
from worker.core.outcome import RequestRecord
from worker.observe.prices import Prices as RecordPrices

TABLE = parse_table(
    {
        "models": {
            "m": {
                "price_input_per_m": 0.66,
                "price_output_per_m": 1.0,
                "targets": [{"adapter": "simulator"}, {"adapter": "simulator", "price_input_per_m": 0.9}],
            }
        }
    },
    {},
)


def test_a_target_without_prices_has_its_models() -> None:
    assert price_list(TABLE) == {"m": Prices(0.66, 1.0), "m#1": Prices(0.66, 1.0), "m#2": Prices(0.9, 0.0)}


def test_the_figure_reported_is_the_figure_booked() -> None:
    for target in ("m#1", "m#2", ""):
        record = RequestRecord("id", "POST", "/v1/chat/completions", 0.0, 0.0)
        record.model, record.target, record.usage = "m", target, Usage(13, 0)
        booked = price_of(price_list(TABLE), target, "m").cost(13, 0)
        assert RecordPrices(TABLE).cost(record) == booked  # the same rounding, not merely close
    assert booked == 8.58e-06  # 13 x 0.66 / 10^6 is 8.580000000000001e-06 in floats, unrounded
