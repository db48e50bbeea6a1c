"""What the gateway tells its operator: metrics, structured logs, traces and the request id they share.

A layer of its own between `config` and the request-serving layers: `web` sets the request id,
`routing` reports upstream attempts, `upstreams` send the id (and the trace context) on, and the app
wires the sinks and the `/metrics` route. Every heavy part is optional or lazy: the OpenTelemetry SDK is
imported only when tracing is on, and with metrics off no sink is added at all.
"""
