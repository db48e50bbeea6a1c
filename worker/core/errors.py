"""One class tree for every failure, raised anywhere and rendered once per dialect.

    GatewayError                  status  code (machine)          Cloudflare code
    ├── BadRequest                400     invalid_request         5006
    │   └── ContextLengthExceeded 400     context_length_exceeded 5006 (prompt + max_tokens > window)
    ├── Unauthorized              401     unauthorized            10000
    ├── Forbidden                 403     forbidden               10000
    ├── NotFound                  404     not_found               5007 (unknown model)
    ├── RequestTimeout            408     request_timeout         3007
    ├── PayloadTooLarge           413     payload_too_large       3006
    ├── UnsupportedMediaType      415     unsupported_media_type  5006
    ├── TooManyHeaders            431     too_many_headers        5006
    ├── RateLimited               429     rate_limited            3040
    │   ├── LimitExceeded         429     rate_limit_exceeded     3040 (a key's own limit)
    │   └── QuotaExceeded         429     insufficient_quota      3036 (a key's budget)
    ├── ClientClosed              499     client_closed           3008
    ├── UpstreamError             500     upstream_error          5000
    │   ├── UpstreamTimeout       504*    upstream_timeout        3007
    │   └── UpstreamBadResponse   500     upstream_bad_response   5000
    ├── InternalError             500     internal_error          5000
    └── ShuttingDown              503     shutting_down           5000

*The `/:modelSlug` contract knows 400/401/499/500 (plus 404, 413, 429 that any HTTP client understands), so a
timeout answers 500 there with code `upstream_timeout`; see `status`.

Messages are written for the person reading the response. They never carry an upstream key, a stack
trace or anything from another client's request: adapters translate low-level exceptions at the boundary
(`raise UpstreamError(...) from exc`) with a message of our own making.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status: int = 500
    code: str = "internal_error"
    cloudflare_code: int = 5000
    message: str = "Unexpected failure"

    def __init__(
        self,
        message: str | None = None,
        detail: Any = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.detail = detail
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(GatewayError):
    status = 400
    code = "invalid_request"
    cloudflare_code = 5006
    message = "Invalid payload"


class ContextLengthExceeded(BadRequest):
    """The prompt and the completion asked for do not fit any target's context window; nothing was sent.
    The message is OpenAI's, word for word in its figures, so clients that parse it keep working."""

    code = "context_length_exceeded"

    def __init__(self, window: int, prompt: int, completion: int) -> None:
        super().__init__(
            f"This model's maximum context length is {window} tokens. However, you requested "
            f"{prompt + completion} tokens ({prompt} in the messages, {completion} in the completion). "
            "Please reduce the length of the messages or completion.",
            {
                "param": "messages",
                "context_window": window,
                "prompt_tokens": prompt,
                "max_tokens": completion,
            },
        )
        self.window, self.prompt, self.completion = window, prompt, completion


class Unauthorized(GatewayError):
    status = 401
    code = "unauthorized"
    cloudflare_code = 10000
    message = "Missing or invalid API key"


class Forbidden(GatewayError):
    status = 403
    code = "forbidden"
    cloudflare_code = 10000
    message = "This API key may not do this"


class NotFound(GatewayError):
    status = 404
    code = "not_found"
    cloudflare_code = 5007
    message = "Not found"


class RequestTimeout(GatewayError):
    """The client did not send its body within `BODY_TIMEOUT`."""

    status = 408
    code = "request_timeout"
    cloudflare_code = 3007
    message = "The request body did not arrive in time"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "payload_too_large"
    cloudflare_code = 3006
    message = "Request body too large"


class UnsupportedMediaType(GatewayError):
    status = 415
    code = "unsupported_media_type"
    cloudflare_code = 5006
    message = "Content-Type must be application/json"


class TooManyHeaders(GatewayError):
    """More header fields than `MAX_HEADERS` (the server's own limit may refuse them earlier)."""

    status = 431
    code = "too_many_headers"
    cloudflare_code = 5006
    message = "Too many header fields"


class RateLimited(GatewayError):
    status = 429
    code = "rate_limited"
    cloudflare_code = 3040
    message = "The upstream is over capacity; retry later"


class ClientClosed(GatewayError):
    status = 499
    code = "client_closed"
    cloudflare_code = 3008
    message = "Client closed the request"


class UpstreamError(GatewayError):
    status = 500
    code = "upstream_error"
    cloudflare_code = 5000
    message = "Upstream model error"


class UpstreamTimeout(UpstreamError):
    code = "upstream_timeout"
    cloudflare_code = 3007
    message = "The upstream did not answer in time"


class UpstreamBadResponse(UpstreamError):
    code = "upstream_bad_response"
    message = "The upstream answered with something that is not a valid completion"


class InternalError(GatewayError):
    message = "Unexpected failure"


class ShuttingDown(GatewayError):
    """The process is stopping and the request outlived the shutdown grace (`SHUTDOWN_GRACE`)."""

    status = 503
    code = "shutting_down"
    cloudflare_code = 5000
    message = "The gateway is shutting down; send the request again"


class LimitExceeded(RateLimited):
    """A key's own rate limit (requests, tokens or concurrency per minute) refused the request."""

    code = "rate_limit_exceeded"
    message = "Rate limit reached for this API key"

    def __init__(self, limit: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, headers=headers)
        self.limit = limit
        """`requests`, `tokens` or `concurrency`: OpenAI's error `type` for the first two."""


class QuotaExceeded(RateLimited):
    """A key's budget for the period is spent (OpenAI's `insufficient_quota`, Cloudflare's 3036)."""

    code = "insufficient_quota"
    cloudflare_code = 3036
    message = "This API key's budget is spent for the current period"
