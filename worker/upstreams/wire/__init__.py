"""The wire layer: how every HTTP adapter talks to its upstream, written once.

    adapter.prepare(request, target) -> Call(url, body, headers, WireFormat)     the adapter's part
    exchange.HttpUpstream.events                                                 the rest, once:
      seam.Wire.post(url, body, headers, timeouts)   aiohttp_wire (default) | httpx_wire (proxy, tests)
        status >= 400 -> format.errors(status, read_bounded(body), headers)   the adapter's error table
        any encoding  -> encoding.content_decoder, bounded pieces             (gzip, deflate, br, zstd)
        not SSE       -> format.body(bytes)  (at most UPSTREAM_MAX_BODY_BYTES)  its whole-answer decoder
        SSE           -> sse.SSEDecoder -> decode.stream_object (JSON, mid-stream errors)
                         -> format.chunks().decode(obj)                       its chunk decoder
                         until [DONE] (the rest is drained in the background: drain) or the
                         end, judged by format.end (StreamEnd: is [DONE] required, or a finish enough?);
                         no content and no finish at all is an error, never an empty answer
      every GatewayError raised on the way is redacted of the target's key, once
    failures.transport_error   both wires' exceptions -> gateway errors (connect, proxy, timeout, other)
    decode.usage               the one usage parser (prompt, completion, reasoning tokens, `estimated`)
    status.error_for_status    the default error table (HTTP status -> gateway error)

Adding an adapter is three pieces of data and one method:
1. a parameter map (`worker.upstreams.params`): `{wire_field: Param(ir_path, default, transform)}`;
2. a chunk decoder: a small class with `decode(obj) -> list[UpstreamEvent]` and `finished`, one per stream;
3. an error table: `(status, body, headers) -> GatewayError` (`error_for_status` if the upstream speaks
   HTTP statuses plainly), gathered with a whole-body decoder and a `StreamEnd` in a `WireFormat`;
then subclass `HttpUpstream` and write `prepare` (URL, `request_body(map_params(...))`, `json_headers`).
It gets the fast aiohttp pool, proxies, timeouts per target, bounded reads, `[DONE]` handling and
redaction without writing any of them. `openai_compat.py` and `workers_ai.py` are the examples.
"""
