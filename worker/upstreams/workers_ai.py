"""Adapter for the Cloudflare Workers AI REST API: `POST {base}/accounts/{account_id}/ai/run/{model}`.

`base_url` is `https://api.cloudflare.com/client/v4` (or a proxy of it, such as AI Gateway), the key is
an API token sent as a bearer token. Answers come in Cloudflare's envelope
`{"result", "success", "errors": [{"code", "message"}], "messages"}`; its error codes are mapped below,
the HTTP status decides the rest (`worker.upstreams.wire.status`). Codes from Cloudflare's Workers AI error
reference (developers.cloudflare.com/workers-ai/platform/errors/) and the captures in CONTRACT.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import orjson

from worker.config.models import Target
from worker.core.errors import (
    BadRequest,
    GatewayError,
    PayloadTooLarge,
    RateLimited,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
)
from worker.core.ir import UpstreamEvent
from worker.upstreams.wire.decode import WireFormat, json_body
from worker.upstreams.wire.status import MAX_MESSAGE, error_for_status
from worker.upstreams.workers_format import WORKERS_END, WorkersChunks, WorkersStyleUpstream, result_events

# Cloudflare error code -> (error class, our message); the upstream's own message is appended.
CLOUDFLARE_CODES: dict[int, tuple[Callable[..., GatewayError], str]] = {
    5006: (BadRequest, "Workers AI refused the request"),
    5007: (UpstreamError, "Workers AI does not know the configured model"),
    3042: (UpstreamError, "Workers AI does not know the configured model"),
    3023: (UpstreamError, "Workers AI refused the gateway's account"),
    10000: (UpstreamError, "The upstream rejected the gateway's credentials"),
    3006: (PayloadTooLarge, "Workers AI refused the request as too large"),
    3007: (UpstreamTimeout, "Workers AI timed out"),
    3008: (UpstreamError, "Workers AI aborted the request"),
    3036: (RateLimited, "Workers AI's account limit is reached"),
    3040: (RateLimited, "Workers AI is over capacity"),
}
# The HTTP status our retry policy sees for each code (the envelope's code is what Cloudflare means).
EFFECTIVE_STATUS = {5007: 400, 3042: 400, 3023: 403, 10000: 401, 3008: 502, 3036: 429, 3040: 429}
# A daily allocation used up (3036) does not come back within a request's life: fail over, do not wait.
EXHAUSTED = frozenset({3036})


def _first_error(body: bytes) -> tuple[int | None, str]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, ""
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None, ""
    code = errors[0].get("code")
    return (code if isinstance(code, int) else None), str(errors[0].get("message", ""))[:MAX_MESSAGE]


def cloudflare_error(status: int, body: bytes, headers: Mapping[str, str]) -> GatewayError:
    """Workers AI's error table: the envelope's code first, the HTTP status for any other."""
    code, message = _first_error(body)
    known = CLOUDFLARE_CODES.get(code) if code is not None else None
    if known is None:
        return error_for_status(status, body, headers)
    kind, ours = known
    detail: dict[str, object] = {
        "upstream_status": EFFECTIVE_STATUS.get(code or 0, status),
        "upstream_code": code,
    }
    if code in EXHAUSTED:
        detail["exhausted"] = True
    retry_after = headers.get("retry-after")
    extra = {"Retry-After": retry_after} if kind is RateLimited and retry_after else None
    return kind(f"{ours}: {message}" if message else ours, detail, headers=extra)


def cloudflare_result(body: bytes) -> Iterator[UpstreamEvent]:
    """Events of a 200 body: the answer sits in the envelope's `result`."""
    data = json_body(body)
    if not isinstance(data, dict) or "success" not in data:
        raise UpstreamBadResponse("Workers AI answered 200 without its result envelope")
    if data.get("success") is not True:
        raise cloudflare_error(500, body, {})
    return result_events(data.get("result"))


class WorkersAI(WorkersStyleUpstream):
    format = WireFormat(cloudflare_error, cloudflare_result, WorkersChunks, WORKERS_END)

    def url(self, target: Target) -> str:
        return f"{target.base_url}/accounts/{target.account_id}/ai/run/{target.model}"
