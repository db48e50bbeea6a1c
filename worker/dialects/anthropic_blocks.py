"""Anthropic content blocks as the IR's turns and parts (`worker.dialects.anthropic` uses it to parse
`messages`).

Every block kind of the Messages API is accepted. What a text model can read becomes prompt text:
text, images (as `data:` URIs), documents with a text source, search results. What it cannot (a PDF,
a server tool's result) is left out and noted, so the ignored-fields header can name it. The order of a
conversation is kept: a `system` turn inside `messages` stays where it was sent, and a user message's
tool results become tool turns placed before the rest of it (where chat templates expect them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from worker.core.ir import ContentPart, ImagePart, Message, TextPart, ToolCall


class Blocks:
    """Turns content blocks into IR parts, noting the kinds it had to leave out (for the ignored-fields
    header). Thinking blocks are dropped without a note: a model's earlier reasoning is not part of
    the prompt for QwQ either (its chat template strips it), and its text is never altered."""

    __slots__ = ("dropped",)

    def __init__(self) -> None:
        self.dropped: list[str] = []

    def drop(self, kind: str) -> None:
        if kind not in ("thinking", "redacted_thinking", "tool_reference"):
            self.dropped.append(f"content.{kind}")

    def parts(self, blocks: list[Mapping[str, Any]]) -> tuple[ContentPart, ...]:
        out: list[ContentPart] = []
        for block in blocks:
            kind = block["type"]
            if kind == "text":
                out.append(TextPart(block["text"]))
            elif kind == "image":
                source = block["source"]
                out.append(ImagePart(f"data:{source['media_type']};base64,{source['data']}"))
            elif kind == "document" and (text := self._document(block)) is not None:
                out.append(TextPart(text))
            elif kind == "search_result":
                texts = "\n".join(b["text"] for b in block["content"])
                out.append(TextPart(f"{block['title']} ({block['source']})\n{texts}"))
            else:
                self.drop(kind)
        return tuple(out)

    def _document(self, block: Mapping[str, Any]) -> str | None:
        """A document's text, when it has one the model can read (a PDF or file id it cannot)."""
        source = block["source"]
        if source["type"] == "text" and isinstance(source.get("data"), str):
            text: str = source["data"]
        elif source["type"] == "content" and isinstance(source.get("content"), str):
            text = source["content"]
        elif source["type"] == "content" and isinstance(source.get("content"), list):
            text = "\n".join(b.get("text", "") for b in source["content"] if isinstance(b, dict))
        else:
            return None
        title = block.get("title")
        return f"{title}\n{text}" if title else text

    def tool_result(self, block: Mapping[str, Any]) -> Message:
        content = block.get("content", "")
        parts: str | tuple[ContentPart, ...] = content if isinstance(content, str) else self.parts(content)
        if block.get("is_error"):
            text = (
                parts if isinstance(parts, str) else "".join(p.text for p in parts if isinstance(p, TextPart))
            )
            parts = f"Error: {text}"
        return Message(role="tool", content=parts, tool_call_id=block["tool_use_id"])

    def turns(self, raw: Mapping[str, Any]) -> list[Message]:
        role, content = raw["role"], raw["content"]
        if role == "system":  # a mid-conversation system turn stays where it was sent
            text = content if isinstance(content, str) else "\n\n".join(b.get("text", "") for b in content)
            return [Message(role="system", content=text)]
        if isinstance(content, str):
            return [Message(role=role, content=content)]
        if role == "assistant":
            texts, calls = [], []
            for b in content:
                if b["type"] == "text":
                    texts.append(b["text"])
                elif b["type"] == "tool_use":
                    calls.append(ToolCall(b["id"], b["name"], orjson.dumps(b["input"]).decode()))
                else:
                    self.drop(b["type"])
            return [Message(role="assistant", content="".join(texts), tool_calls=tuple(calls))]
        turns = [self.tool_result(b) for b in content if b["type"] == "tool_result"]
        rest = [b for b in content if b["type"] != "tool_result"]
        parts = self.parts(rest)
        if parts or not turns:
            turns.append(Message(role="user", content=parts))
        return turns
