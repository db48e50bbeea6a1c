"""`?shape=` / `X-Response-Shape` and `?reasoning=` / `X-Reasoning-Mode` on `POST /:modelSlug`: the
query wins, the header comes next, the deployment default last, and a bad value is refused wherever it is."""

from __future__ import annotations

from typing import Any

import pytest

from worker.core.errors import BadRequest
from worker.surfaces.model_slug import choose_reasoning, choose_shape


def scope(query: bytes = b"", **headers: str) -> dict[str, Any]:
    raw = [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return {"query_string": query, "headers": [(b"host", b"gw"), *raw]}


def test_the_query_wins_then_the_header_then_the_default() -> None:
    assert choose_shape(scope(), "workers") == "workers"
    assert choose_shape(scope(), "choices") == "choices"
    assert choose_shape(scope(x_response_shape="choices"), "workers") == "choices"
    assert choose_shape(scope(b"shape=workers", x_response_shape="choices"), "choices") == "workers"
    assert choose_reasoning(scope()) is None
    assert choose_reasoning(scope(x_reasoning_mode="hidden")) == "hidden"
    assert choose_reasoning(scope(b"reasoning=separate", x_reasoning_mode="hidden")) == "separate"


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (scope(b"shape=xml"), "Unknown response shape 'xml'"),
        (scope(b"shape=choices", x_response_shape="xml"), "Unknown response shape 'xml'"),
        (scope(b"shape="), "Unknown response shape ''"),
        (scope(b"shap=choices"), "Unknown query parameter 'shap'"),
    ],
)
def test_a_bad_shape_is_refused_wherever_it_is(where: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest) as refused:
        choose_shape(where, "workers")
    assert message in refused.value.message


def test_a_bad_reasoning_mode_is_refused_wherever_it_is() -> None:
    for where in (scope(b"reasoning=loud"), scope(b"reasoning=inline", x_reasoning_mode="loud")):
        with pytest.raises(BadRequest) as refused:
            choose_reasoning(where)
        assert "Unknown reasoning mode 'loud'" in refused.value.message
