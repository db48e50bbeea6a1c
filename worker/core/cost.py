"""What a request cost: token counts times the prices per million tokens.

Prices come from the model table (`price_input_per_m`, `price_output_per_m`), a target's own prices
winning over its model's. This module is the one place a cost is computed: the usage accounting, the
limits' budgets, the metrics, the JSON access line and the console all price through it. Reasoning
tokens are output tokens (they are part of `completion_tokens`), so they are priced as output, as the
providers bill them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

PER_MILLION = 1_000_000
CHARS_PER_TOKEN = 4
"""The usual rule of thumb for English text under BPE vocabularies: what a client that left mid-answer
is charged per character the upstream had generated, when no usage count ever arrived."""


@dataclass(frozen=True, slots=True)
class Prices:
    input_per_m: float = 0.0
    output_per_m: float = 0.0

    @property
    def free(self) -> bool:
        return self.input_per_m == 0 and self.output_per_m == 0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """US dollars, rounded to 10 decimals so sums of many requests stay free of float noise."""
        total = prompt_tokens * self.input_per_m + completion_tokens * self.output_per_m
        return round(total / PER_MILLION, 10)


FREE = Prices()


def choose(target: Prices, model: Prices) -> Prices:
    """A target's prices when it has any, else its model's (a zero price means "the model's value")."""
    return model if target.free else target


def price_of(prices: Mapping[str, Prices], target: str, model: str) -> Prices:
    """The prices a request was charged at: its target's (`slug#n`) when it reached one, else its
    model's, else nothing. `prices` is the model table's price list (`worker.config.prices`)."""
    return prices.get(target) or prices.get(model) or FREE


def tokens_from_chars(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN) if chars > 0 else 0
