"""The documentation as data for the doc tests: pages, their code blocks, headings, links and cited paths.

The pages are README.md, every `docs/*.md` and `schemas/README.md`. Anchors follow GitHub's rule (lower
case, punctuation other than `-` and `_` dropped, spaces to `-`, `-1`, `-2`... for repeats), so a link
that works here works on GitHub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DOCS = ROOT / "docs"
# The URL and key every example is written for: `API_KEYS=change-me bash scripts/serve.sh`.
EXAMPLE_URL = "http://127.0.0.1:8787"
EXAMPLE_KEY = "change-me"

FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```[ \t]*$", flags=re.M | re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Block:
    """A fenced code block; `answer` is the block right after it (only blank lines between), if any."""

    page: str
    lang: str
    code: str
    answer: Block | None = None


def page_paths() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md")), ROOT / "schemas" / "README.md"]


@cache
def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def name_of(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def blocks(path: Path) -> list[Block]:
    text = text_of(path)
    found = list(FENCE.finditer(text))
    out: list[Block] = []
    following: Block | None = None  # built from the last block back, so each block can hold the next
    for i in range(len(found) - 1, -1, -1):
        match = found[i]
        adjacent = i + 1 < len(found) and not text[match.end() : found[i + 1].start()].strip()
        following = Block(name_of(path), match.group(1), match.group(2), following if adjacent else None)
        out.insert(0, following)
    return out


def all_blocks() -> list[Block]:
    return [block for path in page_paths() for block in blocks(path)]


def prose(path: Path) -> str:
    """The page without its code blocks (a `# comment` in a shell block is not a heading)."""
    return FENCE.sub("", text_of(path))


def headings(path: Path) -> list[tuple[int, str]]:
    return [(len(m.group(1)), m.group(2).strip()) for m in re.finditer(r"^(#{1,6}) (.+)$", prose(path), re.M)]


def github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, title in headings(path):
        base = github_anchor(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def links(path: Path) -> list[str]:
    return LINK.findall(prose(path))


def curl_blocks() -> list[Block]:
    return [b for b in all_blocks() if b.lang == "sh" and b.code.lstrip().startswith("curl")]
