"""Upstream adapters: each turns a `ChatRequest` into a stream of answer events, owning its own I/O."""
