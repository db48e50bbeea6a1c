"""Adapter for another gateway speaking our own `POST /:modelSlug` contract, so gateways can be chained
(an edge gateway in front of a regional one, each with its own keys and upstreams).

The target's `model` is the next gateway's slug; the answer is asked for in the Workers shape
(`?shape=workers`) whatever that gateway's default. Its errors are `{"error", "detail"}` with the
contract's statuses. A 404 means the slug is not served there, which is this gateway's configuration,
so it is an `UpstreamError`, not the client's fault. Note that retries multiply along a chain: the
next gateway already retried before answering 500, so chained front gateways usually want
`RETRY_ATTEMPTS=0` and rely on failover.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from urllib.parse import quote

from worker.config.models import Target
from worker.core.errors import GatewayError, UpstreamError
from worker.core.ir import UpstreamEvent
from worker.upstreams.wire.decode import WireFormat, json_body
from worker.upstreams.wire.status import error_for_status, upstream_message
from worker.upstreams.workers_format import WORKERS_END, WorkersChunks, WorkersStyleUpstream, result_events


def gateway_error(status: int, body: bytes, headers: Mapping[str, str]) -> GatewayError:
    """The next gateway's errors are ours (`{"error", "detail"}`): the default table reads them, but for
    404, which means the slug is not served there, the configuration of this gateway."""
    if status == 404:
        return UpstreamError(
            f"The next gateway does not serve this model: {upstream_message(body)}", {"upstream_status": 404}
        )
    return error_for_status(status, body, headers)


def gateway_result(body: bytes) -> Iterator[UpstreamEvent]:
    return result_events(json_body(body))


class ChainedGateway(WorkersStyleUpstream):
    format = WireFormat(gateway_error, gateway_result, WorkersChunks, WORKERS_END)

    def url(self, target: Target) -> str:
        return f"{target.base_url}/{quote(target.model, safe='')}?shape=workers"
