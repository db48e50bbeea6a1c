"""Compressed upstream answers: undo the `Content-Encoding` an upstream chose, incrementally and bounded.

Both wires hand the exchange the body's raw bytes (neither library decompresses: one decoder, the same
limits on either wire). `content_decoder` reads the header once per answer; an uncompressed answer gets
None and its bytes go to the SSE decoder untouched, so the common case costs one header look-up.

    encoding        library                       in `ACCEPT_ENCODING`
    gzip, x-gzip    zlib (standard library)       yes
    deflate         zlib (zlib-wrapped or raw)    yes
    br              `brotli`, when installed      when installed (`pip install qwq-gateway[compression]`)
    zstd            `zstandard`, when installed   when installed
    identity        -                             -
    anything else   -                             no: `upstream_bad_response`

Bounded: a few compressed bytes can stand for gigabytes. No decoder call returns much more than
`PIECE` bytes (zlib's `max_length`, brotli's `output_buffer_limit`), except zstandard, which has no output
limit: it is fed `ZSTD_SLICE` input bytes at a time (a zstd block of at most 128 KiB takes at least a
few input bytes, so one slice yields at most about 2 MiB) with its window capped at 8 MiB. The stream's
and the body's own caps (`sse.MAX_EVENT_CHARS`, `UPSTREAM_MAX_BODY_BYTES`) then bound the total.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from worker.core.errors import UpstreamBadResponse

PIECE = 64 * 1024
ZSTD_SLICE = 64
ZSTD_WINDOW = 8 * 1024 * 1024


def _optional(name: str) -> Any:
    """A module of the `compression` extra (`pip install qwq-gateway[compression]`), or None."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


brotli = _optional("brotli")
zstandard = _optional("zstandard")


class UnknownEncoding(UpstreamBadResponse):
    """An encoding the gateway did not offer and cannot decode."""


class CorruptBody(UpstreamBadResponse):
    message = "The upstream sent a compressed body that does not decompress"


class _Zlib:
    """gzip, or deflate: RFC 9110's deflate is zlib-wrapped, but some servers send it raw; the first
    two bytes tell which (a zlib header names method 8 and is a multiple of 31), as browsers judge."""

    __slots__ = ("_decompressor", "_head")

    def __init__(self, wbits: int, sniff: bool = False) -> None:
        self._decompressor = zlib.decompressobj(wbits)
        self._head: bytes | None = b"" if sniff else None  # deflate: bytes held until the header is judged

    def decode(self, data: bytes) -> list[bytes]:
        if self._head is not None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return []
            self._head = None
            if data[0] & 0x0F != 8 or (data[0] << 8 | data[1]) % 31:
                self._decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
        pieces: list[bytes] = []
        try:
            while data:
                out = self._decompressor.decompress(data, PIECE)
                if out:
                    pieces.append(out)
                data = self._decompressor.unconsumed_tail
        except zlib.error as exc:
            raise CorruptBody() from exc
        return pieces

    def end(self) -> list[bytes]:
        if self._head:
            raise CorruptBody("The upstream's compressed body was cut short")
        tail = self._decompressor.flush()
        if not self._decompressor.eof:
            raise CorruptBody("The upstream's compressed body was cut short")
        return [tail] if tail else []


class _Brotli:
    __slots__ = ("_decompressor",)

    def __init__(self) -> None:
        assert brotli is not None
        self._decompressor = brotli.Decompressor()

    def decode(self, data: bytes) -> list[bytes]:
        pieces: list[bytes] = []
        decompressor = self._decompressor
        try:
            out = decompressor.process(data, output_buffer_limit=PIECE)
            # Output past the limit waits inside the decompressor; calls with no input bring it out,
            # until one brings nothing (it needs more input) or the stream is complete.
            while out:
                pieces.append(out)
                if decompressor.is_finished():
                    break
                out = decompressor.process(b"", output_buffer_limit=PIECE)
            return pieces
        except brotli.error as exc:
            raise CorruptBody() from exc

    def end(self) -> list[bytes]:
        if not self._decompressor.is_finished():
            raise CorruptBody("The upstream's compressed body was cut short")
        return []


class _Zstd:
    """zstd: one frame after another (RFC 8878 lets a body be several); complete at a frame's end."""

    __slots__ = ("_decompressor", "_factory")

    def __init__(self) -> None:
        assert zstandard is not None
        self._factory = zstandard.ZstdDecompressor(max_window_size=ZSTD_WINDOW)
        self._decompressor = self._factory.decompressobj()

    def decode(self, data: bytes) -> list[bytes]:
        pieces: list[bytes] = []
        try:
            while data:
                view = memoryview(data)
                for at in range(0, len(view), ZSTD_SLICE):
                    if self._decompressor.eof:  # the next frame starts within this slice's input
                        data = self._decompressor.unused_data + bytes(view[at:])
                        self._decompressor = self._factory.decompressobj()
                        break
                    out = self._decompressor.decompress(view[at : at + ZSTD_SLICE])
                    if out:
                        pieces.append(out)
                else:
                    if self._decompressor.eof and self._decompressor.unused_data:
                        data = self._decompressor.unused_data
                        self._decompressor = self._factory.decompressobj()
                    else:
                        data = b""
        except zstandard.ZstdError as exc:
            raise CorruptBody() from exc
        return pieces

    def end(self) -> list[bytes]:
        if not self._decompressor.eof:
            raise CorruptBody("The upstream's compressed body was cut short")
        return []


Decoder = _Zlib | _Brotli | _Zstd

DECODERS: dict[str, Callable[[], Decoder]] = {
    "gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "deflate": lambda: _Zlib(zlib.MAX_WBITS, sniff=True),
}
if brotli is not None:
    DECODERS["br"] = _Brotli
if zstandard is not None:
    DECODERS["zstd"] = _Zstd

# What the gateway offers on non-streamed requests: exactly what it can decode. Streamed requests offer
# `identity` only: a compressing proxy in front of an upstream may hold SSE events back to fill its
# compression blocks, which would delay every token.
ACCEPT_ENCODING = ", ".join(name for name in ("gzip", "deflate", "br", "zstd") if name in DECODERS)


class Decoding:
    """The decoders of one answer, in the order to apply them (`Content-Encoding: gzip, br` was
    gzipped, then brotli'd: br is undone first)."""

    __slots__ = ("_decoders",)

    def __init__(self, decoders: list[Decoder]) -> None:
        self._decoders = decoders

    def decode(self, data: bytes) -> list[bytes]:
        pieces = [data]
        for decoder in self._decoders:
            pieces = [out for piece in pieces for out in decoder.decode(piece)]
        return pieces

    def end(self) -> list[bytes]:
        pieces: list[bytes] = []
        for decoder in self._decoders:
            pieces = [out for piece in pieces for out in decoder.decode(piece)]
            pieces.extend(decoder.end())
        return pieces


def content_decoder(header: str | None) -> Decoding | None:
    """The decoding of a `Content-Encoding` value; None if there is nothing to undo."""
    if not header:
        return None
    names = [name.strip().lower() for name in header.split(",")]
    names = [name for name in names if name and name != "identity"]
    if not names:
        return None
    decoders: list[Decoder] = []
    for name in reversed(names):
        make = DECODERS.get(name)
        if make is None:
            raise UnknownEncoding(
                f"The upstream answered with a content encoding the gateway cannot decode: {name[:40]!r}",
                {"content_encoding": name[:40]},
            )
        decoders.append(make())
    return Decoding(decoders)


async def decoded(chunks: AsyncIterator[bytes], decoding: Decoding) -> AsyncIterator[bytes]:
    """The body's decompressed bytes, in pieces of at most `PIECE` (a layer only compressed answers
    pay for)."""
    async for chunk in chunks:
        for piece in decoding.decode(chunk):
            yield piece
    for piece in decoding.end():
        yield piece
