from __future__ import annotations

from worker.core.ir import ChatRequest, ImagePart, Message, SamplingParams, TextPart, ToolSpec
from worker.upstreams.params import Param, map_params
from worker.upstreams.workers_format import build_payload


def test_map_params_reads_paths_defaults_and_transforms() -> None:
    request = ChatRequest(model="m", params=SamplingParams(top_k=4), stream=True)
    mapping = {
        "params.top_k": Param("k"),
        "params.temperature": Param("temp", default=0.5),
        "params.seed": Param("seed"),
        "stream": Param("stream", transform=lambda v: "yes" if v else None),
        "raw": Param("raw", transform=lambda v: True if v else None),
    }
    assert map_params(request, mapping) == {"k": 4, "temp": 0.5, "stream": "yes"}


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
