"""Stored Responses API responses through the official `openai` SDK against live gateways, on both stores:
`store`, `retrieve`, `delete`, `input_items`, `previous_response_id` (streamed too), key isolation, the
time to live, the size cap, and a store that goes down."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import API_KEY
from tests.redis_server import RedisServer
from tests.servers import LiveServer

OTHER_KEY = "other-key-0123456789"
Factory = Callable[..., LiveServer]


def store_of(response: Any) -> Any:
    """`store` of an SDK response object (a field its types leave out, kept as an extra)."""
    return response.store


def sdk(gateway: LiveServer, key: str = API_KEY) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{gateway.url}/v1", max_retries=0, timeout=10)


@pytest.fixture
def gateway(live_gateway_factory: Factory, state_url: str) -> LiveServer:
    return live_gateway_factory(state_url=state_url, api_keys=f"{API_KEY},{OTHER_KEY}")


def test_a_stored_response_is_retrieved_listed_and_deleted(gateway: LiveServer) -> None:
    client = sdk(gateway)
    created = client.responses.create(model="qwq-32b", instructions="Be brief.", input="What is an edge?")
    assert store_of(created) is True  # omitted `store` means stored, as OpenAI's default
    got = client.responses.retrieve(created.id)
    assert got.model_dump() == created.model_dump()
    items: list[Any] = list(client.responses.input_items.list(created.id))
    assert [(i.type, i.role) for i in items] == [("message", "user")]
    assert items[0].content[0].text == "What is an edge?"
    deleted = httpx.delete(
        f"{gateway.url}/v1/responses/{created.id}", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert deleted.status_code == 200
    assert deleted.json() == {"id": created.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError) as gone:
        client.responses.retrieve(created.id)
    assert gone.value.code == "response_not_found"
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_store_false_keeps_nothing(gateway: LiveServer) -> None:
    client = sdk(gateway)
    created = client.responses.create(model="qwq-32b", input="hi", store=False)
    assert store_of(created) is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="qwq-32b", input="and?", previous_response_id=created.id)
    assert refused.value.code == "previous_response_not_found"
    assert refused.value.param == "previous_response_id"


@pytest.mark.parametrize("stream", [False, True])
def test_previous_response_id_continues_the_conversation(gateway: LiveServer, stream: bool) -> None:
    client = sdk(gateway)
    first = client.responses.create(model="qwq-32b", instructions="Be brief.", input="Name a colour.")
    fresh = client.responses.create(model="qwq-32b", input="And another?", store=False)
    second: Any
    if stream:
        with client.responses.stream(
            model="qwq-32b", input="And another?", previous_response_id=first.id
        ) as s:
            second = s.get_final_response()
    else:
        second = client.responses.create(model="qwq-32b", input="And another?", previous_response_id=first.id)
    assert store_of(second) is True and second.previous_response_id == first.id
    assert second.instructions is None  # instructions are not carried over
    # The model was given the first turn and its answer (not its reasoning) before the new input.
    assert second.usage is not None and fresh.usage is not None and first.usage is not None
    answer_tokens = first.usage.output_tokens - first.usage.output_tokens_details.reasoning_tokens
    assert second.usage.input_tokens > fresh.usage.input_tokens + answer_tokens
    kept = client.responses.retrieve(second.id)  # (the stream helper's object adds `parsed` fields)
    assert kept.output_text == second.output_text and [o.id for o in kept.output] == [
        o.id for o in second.output
    ]
    items: list[Any] = list(client.responses.input_items.list(second.id, order="asc"))
    assert [i.type for i in items] == ["message", "reasoning", "message", "message"]
    assert items[0].content[0].text == "Name a colour."
    assert items[2].id == first.output[1].id and items[3].content[0].text == "And another?"
    newest_first = list(client.responses.input_items.list(second.id, limit=1))  # pages through all four
    assert [i.id for i in newest_first] == [i.id for i in reversed(items)]
    third = client.responses.create(model="qwq-32b", input="Thanks.", previous_response_id=second.id)
    assert len(list(client.responses.input_items.list(third.id))) == 7  # 4 + reasoning, answer + new


def test_a_streamed_response_is_stored_before_it_completes(gateway: LiveServer) -> None:
    client = sdk(gateway)
    events = client.responses.create(model="qwq-32b", input="hi", stream=True)
    for event in events:
        if event.type == "response.created":
            assert store_of(event.response) is True
        if event.type == "response.completed":
            # Read while the stream is still open: the completed event comes after the write.
            assert client.responses.retrieve(event.response.id).model_dump() == event.response.model_dump()
            assert store_of(event.response) is True
            completed = event.response
    assert completed.output_text


def test_another_key_finds_nothing(gateway: LiveServer) -> None:
    mine = sdk(gateway).responses.create(model="qwq-32b", input="secret plans")
    theirs = sdk(gateway, OTHER_KEY)
    with pytest.raises(openai.NotFoundError):
        theirs.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        theirs.responses.input_items.list(mine.id)
    with pytest.raises(openai.NotFoundError):
        theirs.responses.delete(mine.id)
    with pytest.raises(openai.BadRequestError) as refused:
        theirs.responses.create(model="qwq-32b", input="tell me", previous_response_id=mine.id)
    assert refused.value.code == "previous_response_not_found"
    assert sdk(gateway).responses.retrieve(mine.id).id == mine.id  # still there for its owner


def test_a_response_id_taken_by_another_key_is_answered_unstored(gateway: LiveServer) -> None:
    headers = {"X-Request-Id": "chosen-by-the-client"}
    mine = sdk(gateway).responses.create(model="qwq-32b", input="hi", extra_headers=headers)
    theirs = sdk(gateway, OTHER_KEY).responses.create(model="qwq-32b", input="hi", extra_headers=headers)
    assert mine.id == theirs.id and store_of(mine) is True and store_of(theirs) is False
    assert sdk(gateway).responses.retrieve(mine.id).model_dump() == mine.model_dump()


def test_responses_expire(live_gateway_factory: Factory, state_url: str) -> None:
    gateway = live_gateway_factory(state_url=state_url, responses_ttl=0.5)
    client = sdk(gateway)
    created = client.responses.create(model="qwq-32b", input="hi")
    assert client.responses.retrieve(created.id).id == created.id
    time.sleep(1.0)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="qwq-32b", input="and?", previous_response_id=created.id)


@pytest.mark.parametrize("stream", [False, True])
def test_a_response_over_the_cap_says_store_false(live_gateway_factory: Factory, stream: bool) -> None:
    gateway = live_gateway_factory(responses_max_bytes=200)
    client = sdk(gateway)
    created: Any
    if stream:
        with client.responses.stream(model="qwq-32b", input="hi") as s:
            created = s.get_final_response()
    else:
        created = client.responses.create(model="qwq-32b", input="hi")
    assert store_of(created) is False and created.output_text
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


@pytest.mark.parametrize("stream", [False, True])
def test_the_answer_is_served_when_the_store_is_down(
    live_gateway_factory: Factory, tmp_path: Path, stream: bool, log_lines: list[str]
) -> None:
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    try:
        gateway = live_gateway_factory(state_url=redis_server.url)
        client = sdk(gateway)
        first = client.responses.create(model="qwq-32b", input="hi")
        assert store_of(first) is True
    finally:
        redis_server.stop()
    answered: Any
    if stream:
        with client.responses.stream(model="qwq-32b", input="hi again") as s:
            answered = s.get_final_response()
    else:
        answered = client.responses.create(model="qwq-32b", input="hi again")
    assert answered.status == "completed" and store_of(answered) is False and answered.output_text
    assert any("not stored" in line and answered.id in line for line in log_lines)
    with pytest.raises(openai.InternalServerError) as down:
        client.responses.create(model="qwq-32b", input="and?", previous_response_id=first.id)
    assert down.value.status_code == 503 and down.value.code == "store_unavailable"
    with pytest.raises(openai.InternalServerError):
        client.responses.retrieve(first.id)


def test_without_a_state_store_nothing_is_stored(live_gateway_factory: Factory) -> None:
    gateway = live_gateway_factory(state_url="off")
    raw = httpx.post(
        f"{gateway.url}/v1/responses",
        json={"model": "qwq-32b", "input": "hi", "store": True},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert raw.status_code == 200 and raw.json()["store"] is False
    assert raw.headers["x-gateway-ignored-fields"] == "store"
    client = sdk(gateway)
    assert store_of(client.responses.create(model="qwq-32b", input="hi")) is False
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve(raw.json()["id"])
    assert missing.value.code == "response_not_found" and "does not store responses" in missing.value.message
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="qwq-32b", input="and?", previous_response_id=raw.json()["id"])
    assert refused.value.param == "previous_response_id"


def test_input_items_pages(gateway: LiveServer) -> None:
    turns: Any = [{"role": "user", "content": f"turn {n}"} for n in range(5)]
    created = sdk(gateway).responses.create(model="qwq-32b", input=turns)
    url = f"{gateway.url}/v1/responses/{created.id}/input_items"
    auth = {"Authorization": f"Bearer {API_KEY}"}
    page = httpx.get(url, params={"limit": 2, "order": "asc"}, headers=auth).json()
    assert [i["content"][0]["text"] for i in page["data"]] == ["turn 0", "turn 1"]
    assert page["object"] == "list" and page["has_more"] is True
    assert page["first_id"] == page["data"][0]["id"] and page["last_id"] == page["data"][1]["id"]
    rest = httpx.get(url, params={"after": page["last_id"], "order": "asc"}, headers=auth).json()
    assert [i["content"][0]["text"] for i in rest["data"]] == ["turn 2", "turn 3", "turn 4"]
    assert rest["has_more"] is False
