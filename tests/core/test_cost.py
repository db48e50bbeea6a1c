"""Cost: tokens times prices per million; a target's prices win over its model's."""

from __future__ import annotations

from worker.core.cost import FREE, Prices, choose, price_of, tokens_from_chars
from worker.core.ir import Usage


def test_cost_is_tokens_times_prices_per_million() -> None:
    assert Prices(0.66, 1.00).cost(1_000_000, 1_000_000) == 1.66
    assert Prices(0.66, 1.00).cost(1000, 2000) == 0.00266
    assert FREE.cost(10**9, 10**9) == 0.0


def test_a_target_price_wins_over_the_model_price_unless_it_has_none() -> None:
    model = Prices(0.66, 1.0)
    assert choose(Prices(0.1, 0.2), model) == Prices(0.1, 0.2)
    assert choose(FREE, model) == model


def test_a_client_that_left_is_charged_four_characters_a_token() -> None:
    assert (tokens_from_chars(0), tokens_from_chars(1), tokens_from_chars(400)) == (0, 1, 100)


def test_usage_carries_its_cost_as_deepinfra_does() -> None:
    assert Usage(1, 2, cost=0.5).as_dict()["estimated_cost"] == 0.5
    assert "estimated_cost" not in Usage(1, 2).as_dict()


def test_a_request_is_priced_at_its_targets_prices_else_its_models_else_free() -> None:
    prices = {"m": Prices(1.0, 2.0), "m#2": Prices(3.0, 4.0)}
    assert price_of(prices, "m#2", "m") == Prices(3.0, 4.0)
    assert price_of(prices, "", "m") == Prices(1.0, 2.0)  # refused before reaching a target
    assert price_of(prices, "", "other") is FREE
