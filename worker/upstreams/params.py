"""Request parameter mappings as data, read by one function (the Portkey gateway's provider-config style).

An adapter declares `{wire_name: Param(source, default, transform)}`, in the order the payload is to
have; `map_params` walks it. Adding a provider, or a field a provider names differently, is a line in
a table, not new control flow. A source is an attribute path of the `ChatRequest` (`params.top_k` reads
a nested one; `""` is the whole request, for a field built from several). A value that is unset (None
or an empty tuple) takes the default; a transform that returns None leaves the field out.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from worker.core.ir import ChatRequest, SamplingParams


def _itself(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Param:
    source: str
    default: Any = None
    transform: Callable[[Any], Any] | None = None
    # The source path compiled once (`operator.attrgetter` walks dotted paths in C).
    read: Callable[[Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "read", operator.attrgetter(self.source) if self.source else _itself)


ParamMap = Mapping[str, Param]


def as_list(value: Any) -> Any:
    """Tuples (the IR's immutable sequences, e.g. `stop`) as JSON arrays; anything else as is."""
    return list(value) if isinstance(value, tuple) else value


def true_or_absent(value: bool) -> bool | None:
    """A flag sent only when set (`"stream": true`), as the upstreams' own clients do."""
    return True if value else None


# Every IR sampling field under its own name: the names agree across the upstreams spoken today. A
# provider that names one differently copies this map and changes that line.
SAMPLING: ParamMap = {
    f.name: Param(f"params.{f.name}", transform=as_list) for f in dataclasses.fields(SamplingParams)
}


def map_params(request: ChatRequest, mapping: ParamMap) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for name, param in mapping.items():
        value = param.read(request)
        if value is None or value == ():
            value = param.default
        if value is not None and param.transform is not None:
            value = param.transform(value)
        if value is not None:
            payload[name] = value
    return payload
