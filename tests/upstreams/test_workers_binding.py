"""The Workers AI binding adapter, driven with fakes in the shapes the Python Workers runtime passes
(tests/upstreams/workers_runtime.py), through the whole gateway and on its own."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, cast

import httpx
import pytest

from tests.conftest import AUTH, make_settings
from tests.upstreams.workers_runtime import FakeAI, JsException, sse
from worker.app import create_app
from worker.config.models import Target
from worker.config.settings import SettingsError
from worker.core.errors import BadRequest, RateLimited, UpstreamError
from worker.core.ir import ChatRequest, Message, TextDelta, UpstreamEvent
from worker.upstreams.workers_binding import BindingWire, WorkersAIBinding, error_envelope

ANSWER = {"response": "Forty-two.", "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}


async def post(ai: FakeAI, body: dict[str, Any], path: str = "/qwq-32b", **settings: Any) -> httpx.Response:
    app = create_app(make_settings(retry_attempts=0, **settings), ai_binding=ai)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as c:
        return await c.post(path, json=body, headers=AUTH)


async def test_a_whole_answer_comes_from_the_binding_under_the_cloudflare_id() -> None:
    ai = FakeAI([ANSWER])
    answer = await post(ai, {"prompt": "The answer?", "max_tokens": 50})
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"] == "Forty-two."
    assert answer.json()["usage"]["completion_tokens"] == 3
    ((model, inputs),) = ai.calls
    assert model == "@cf/qwen/qwq-32b"
    # The REST adapter's input, as a plain object (no envelope, no stream flag for a whole answer).
    assert inputs["messages"] == [{"role": "user", "content": "The answer?"}]
    assert inputs["max_tokens"] == 50 and "stream" not in inputs


async def test_a_stream_is_read_from_the_bindings_readable_stream() -> None:
    chunks = sse({"response": "Forty"}, {"response": "-two."}, {"usage": ANSWER["usage"], "response": ""})
    ai = FakeAI([chunks])
    answer = await post(
        ai,
        {"model": "qwq-32b", "messages": [{"role": "user", "content": "?"}], "stream": True},
        path="/v1/chat/completions",
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    text = "".join(line for line in answer.text.split("\n") if line.startswith("data: {"))
    assert '"Forty"' in text and '"-two."' in text and answer.text.rstrip().endswith("data: [DONE]")
    assert ai.calls[0][1]["stream"] is True
    assert ai.streams[0].read_count == len(chunks)


async def test_a_stream_cut_before_done_is_an_error_not_a_short_answer() -> None:
    ai = FakeAI([sse({"response": "Forty"})[:-1]])
    answer = await post(ai, {"prompt": "?", "stream": True})
    assert answer.text.startswith('data: {"response":"Forty"}')
    assert "the answer was cut short" in answer.text and '"truncated":true' in answer.text


@pytest.mark.parametrize(
    ("thrown", "status"),
    [
        ("AiError: 3040: Capacity temporarily exceeded, please try again.", RateLimited.status),
        ("InferenceUpstreamError: ERROR 5006: invalid input", BadRequest.status),
        ("Error: network connection lost", UpstreamError.status),
    ],
)
async def test_a_thrown_error_is_answered_by_cloudflares_error_table(thrown: str, status: int) -> None:
    answer = await post(FakeAI([JsException(thrown)]), {"prompt": "?"})
    assert answer.status_code == status, answer.text


def test_error_codes_are_read_from_the_thrown_message() -> None:
    status, body = error_envelope(JsException("AiError: 3036: You have used up your daily free allocation"))
    assert status == 429 and b'"code":3036' in body and b"daily free allocation" in body
    status, body = error_envelope(JsException("TypeError: x is undefined"))
    assert status == 500 and b'"code":null' in body


async def test_leaving_a_stream_early_cancels_the_bindings_stream() -> None:
    ai = FakeAI([sse({"response": "a"}, {"response": "b"}, {"response": "c"})])
    adapter = WorkersAIBinding(BindingWire(ai))
    request = ChatRequest("qwq-32b", (Message("user", "?"),), stream=True)
    target = Target(adapter="workers-ai-binding", model="@cf/qwen/qwq-32b")
    events = cast(AsyncGenerator[UpstreamEvent, None], adapter.events(request, target))
    first = await anext(events)
    assert first == TextDelta("a")
    await events.aclose()  # the client went away
    assert ai.streams[0].cancelled and ai.streams[0].read_count == 1


async def test_the_input_is_converted_to_a_javascript_object() -> None:
    ai = FakeAI([ANSWER])
    converted: list[Any] = []

    def to_js(value: Any) -> Any:
        converted.append(value)
        return ("js-object", value)

    adapter = WorkersAIBinding(BindingWire(ai, to_js=to_js))
    request = ChatRequest("qwq-32b", (Message("user", "?"),))
    events = [e async for e in adapter.events(request, Target(adapter="workers-ai-binding", model="m"))]
    assert TextDelta("Forty-two.") in events
    assert ai.calls == [("m", ("js-object", converted[0]))]


def test_without_a_binding_the_simulator_serves_and_the_adapter_is_refused(tmp_path: Any) -> None:
    table = tmp_path / "models.toml"
    table.write_text(
        "[models.qwq-32b]\n[[models.qwq-32b.targets]]\n"
        'adapter = "workers-ai-binding"\nmodel = "@cf/qwen/qwq-32b"\n'
    )
    with pytest.raises(SettingsError, match="workers-ai-binding"):
        create_app(make_settings(models_file=str(table)))
    app = create_app(make_settings(models_file=str(table)), ai_binding=FakeAI([ANSWER]))
    assert app is not None


def test_a_model_table_keeps_its_simulator_targets_beside_a_binding(tmp_path: Any) -> None:
    table = tmp_path / "models.toml"
    table.write_text(
        '[models.qwq-32b]\ncloudflare_id = "@cf/qwen/qwq-32b"\n[[models.qwq-32b.targets]]\n'
        'adapter = "simulator"\n'
    )
    app = create_app(make_settings(models_file=str(table)), ai_binding=FakeAI([ANSWER]))
    assert app.app.state.app_state.table.entries["qwq-32b"].primary.adapter == "simulator"
