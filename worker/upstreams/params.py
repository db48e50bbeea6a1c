"""Request parameter mappings as data, read by one function (the Portkey gateway's provider-config style).

An adapter declares `{ir_field: Param(wire_name, default, transform)}`; `map_params` walks it. Adding a
provider, or a field a provider names differently, is a line in a table, not new control flow. A dotted
source (`params.top_k`) reads a nested IR attribute. A field that is unset (None or an empty tuple)
takes the default; a transform that returns None leaves the field out of the payload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from worker.core.ir import ChatRequest


@dataclass(frozen=True, slots=True)
class Param:
    to: str
    default: Any = None
    transform: Callable[[Any], Any] | None = None


ParamMap = Mapping[str, Param]


def _read(request: ChatRequest, path: str) -> Any:
    value: Any = request
    for part in path.split("."):
        value = getattr(value, part)
    return value


def map_params(request: ChatRequest, mapping: ParamMap) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for source, param in mapping.items():
        value = _read(request, source)
        if value is None or value == ():
            value = param.default
        if value is not None and param.transform is not None:
            value = param.transform(value)
        if value is not None:
            payload[param.to] = value
    return payload
