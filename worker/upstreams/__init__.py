"""Upstream adapters: each turns a `ChatRequest` into a stream of answer events (`base.Upstream`).

The HTTP adapters (`openai_compat` with `completions`, `workers_ai`, `chained` over `workers_format`)
are parameter maps, chunk decoders and error tables over one shared exchange and one wire: see
`worker.upstreams.wire` for the layer's shape and how to add an adapter. `simulator` runs in-process.
"""
