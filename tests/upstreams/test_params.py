from __future__ import annotations

import orjson

from worker.config.models import Target
from worker.core.ir import (
    ChatRequest,
    ImagePart,
    Message,
    SamplingParams,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from worker.upstreams.openai_compat import build_payload as chat_payload
from worker.upstreams.params import SAMPLING, Param, as_list, map_params
from worker.upstreams.workers_format import build_payload


def test_map_params_reads_paths_defaults_and_transforms() -> None:
    request = ChatRequest(model="m", params=SamplingParams(top_k=4, stop=("a", "b")), stream=True)
    mapping = {
        "k": Param("params.top_k"),
        "temp": Param("params.temperature", default=0.5),
        "seed": Param("params.seed"),
        "stop": Param("params.stop", transform=as_list),
        "stream": Param("stream", transform=lambda v: "yes" if v else None),
        "raw": Param("raw", transform=lambda v: True if v else None),
        "whole": Param("", transform=lambda r: r.model),  # the request itself, for derived fields
    }
    payload = map_params(request, mapping)
    assert payload == {"k": 4, "temp": 0.5, "stop": ["a", "b"], "stream": "yes", "whole": "m"}
    assert list(payload) == ["k", "temp", "stop", "stream", "whole"]  # the map's order


def test_every_sampling_field_is_mapped() -> None:
    assert [p.source for p in SAMPLING.values()] == [
        f"params.{n}" for n in SamplingParams.__dataclass_fields__
    ]


def test_workers_payload() -> None:
    request = ChatRequest(
        model="qwq-32b",
        messages=(
            Message("system", "be brief"),
            Message("user", (TextPart("what is this?"), ImagePart("data:image/png;base64,AA"))),
        ),
        params=SamplingParams(max_tokens=64, temperature=0.2, stop=("x",)),
        tools=(ToolSpec("f", "does f", {"type": "object", "properties": {}}),),
        response_schema={"type": "object"},
    )
    assert build_payload(request) == {
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
                ],
            },
        ],
        "max_tokens": 64,
        "temperature": 0.2,
        "tools": [{"name": "f", "description": "does f", "parameters": {"type": "object", "properties": {}}}],
        "guided_json": {"type": "object"},
    }


def test_raw_prompt_payload() -> None:
    payload = build_payload(ChatRequest(model="m", prompt="<|im_start|>", raw=True, stream=True))
    assert payload == {"prompt": "<|im_start|>", "raw": True, "stream": True}


TARGET = Target("openai", "http://up/v1", "Qwen/QwQ-32B")


def test_chat_payload_bytes() -> None:
    """The exact bytes the OpenAI-compatible adapter sends for a request using every field (recorded
    from the hand-written builder this table replaced), key order included."""
    request = ChatRequest(
        model="qwq-32b",
        messages=(
            Message("system", "be brief"),
            Message("assistant", "", tool_calls=(ToolCall("call1", "f", '{"a": 1}'),)),
            Message("tool", "42", tool_call_id="call1", name="f"),
        ),
        params=SamplingParams(
            max_tokens=10,
            temperature=0.2,
            top_p=0.9,
            top_k=5,
            seed=3,
            repetition_penalty=1.1,
            frequency_penalty=0.1,
            presence_penalty=0.2,
            stop=("END", "STOP"),
        ),
        tools=(ToolSpec("f", "does f", {"type": "object"}),),
        tool_choice=ToolChoice("function", "f"),
        response_schema={"type": "object"},
        json_mode=True,
        user="u1",
        stream=True,
    )
    assert orjson.dumps(chat_payload(request, TARGET)) == (
        b'{"model":"Qwen/QwQ-32B","messages":[{"role":"system","content":"be brief"},'
        b'{"role":"assistant","content":"","tool_calls":[{"id":"call1","type":"function",'
        b'"function":{"name":"f","arguments":"{\\"a\\": 1}"}}]},'
        b'{"role":"tool","content":"42","tool_call_id":"call1","name":"f"}],'
        b'"max_tokens":10,"temperature":0.2,"top_p":0.9,"top_k":5,"seed":3,"repetition_penalty":1.1,'
        b'"frequency_penalty":0.1,"presence_penalty":0.2,"stop":["END","STOP"],'
        b'"tools":[{"type":"function","function":{"name":"f","description":"does f",'
        b'"parameters":{"type":"object"}}}],'
        b'"tool_choice":{"type":"function","function":{"name":"f"}},'
        b'"response_format":{"type":"json_schema","json_schema":{"name":"response",'
        b'"schema":{"type":"object"},"strict":true}},'
        b'"user":"u1","stream":true,"stream_options":{"include_usage":true}}'
    )


def test_chat_payload_minimal_and_json_mode() -> None:
    plain = ChatRequest(model="m")
    assert orjson.dumps(chat_payload(plain, TARGET)) == b'{"model":"Qwen/QwQ-32B","messages":[]}'
    json_mode = ChatRequest(model="m", messages=(Message("user", "hi"),), json_mode=True)
    assert chat_payload(json_mode, TARGET)["response_format"] == {"type": "json_object"}
    auto = ChatRequest(model="m", tool_choice=ToolChoice("auto"))
    assert chat_payload(auto, TARGET)["tool_choice"] == "auto"
