"""The README and `docs/` hold together: size, tables of contents, links, cited files and modules, tone."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

from tests.docs.pages import (
    DOCS,
    ROOT,
    all_blocks,
    anchors,
    github_anchor,
    headings,
    links,
    name_of,
    page_paths,
    prose,
    text_of,
)

README = ROOT / "README.md"
PAGES = page_paths()
PAGE_IDS = [name_of(p) for p in PAGES]
EXPECTED_DOCS = {
    "architecture.md",
    "claude-code.md",
    "clients.md",
    "configuration.md",
    "console.md",
    "deploying.md",
    "errors.md",
    "keys.md",
    "limits.md",
    "operations.md",
    "performance.md",
    "responses.md",
    "streaming.md",
    "surfaces.md",
    "tokens.md",
    "upstreams.md",
}
# Paths the docs name that are made by the scripts, not kept in git.
GENERATED = {
    ".venv",
    ".wrangler-cli",
    "scripts/bench/.venv-peers",
    "scripts/bench/node-peers",
    "scripts/bench/.cython",  # Cython for scripts/bench/compiled_cost.py; gitignored
    "tests/console/screenshots",  # written by the console tests; gitignored
}
CITED = re.compile(r"(?<![\w./-])((?:worker|tests|scripts|schemas|docs)/[\w./-]*[\w/]|\.env\.example)")
MODULE = re.compile(r"(?<![\w./-])(worker(?:\.[a-z_]+)+)")
LOGGERS = {"worker.access"}  # printed in log lines the docs show; a logger, not a module
DIARY = re.compile(r"this round|previous round|earlier round|\bissue \d|\(issue|the development machine")


def tracked_files() -> set[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_readme_is_a_short_guide() -> None:
    assert len(README.read_bytes()) <= 25_000


def test_readme_contents_link_every_section() -> None:
    body = README.read_text()
    contents = body.split("## Contents\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- \[.+?\]\(#([\w-]+)\)$", contents, flags=re.M)
    sections = [github_anchor(t) for level, t in headings(README) if level == 2 and t != "Contents"]
    assert listed == sections, "README's contents and its sections differ"


@pytest.mark.parametrize("path", [p for p in PAGES if p.parent == DOCS], ids=lambda p: p.name)
def test_each_docs_page_opens_with_its_contents(path: Path) -> None:
    before_first_section = prose(path).split("\n## ", 1)[0]
    listed = re.findall(r"^- \[.+?\]\(#([\w-]+)\)$", before_first_section, flags=re.M)
    sections = [github_anchor(t) for level, t in headings(path) if level == 2]
    assert listed == sections, f"{path.name}: the list at the top and the sections differ"


def test_the_docs_pages_are_the_expected_ones_and_the_readme_links_each() -> None:
    assert {p.name for p in DOCS.glob("*.md")} == EXPECTED_DOCS
    linked = {target.split("#")[0] for target in links(README)}
    assert {f"docs/{name}" for name in EXPECTED_DOCS} <= linked


@pytest.mark.parametrize("path", PAGES, ids=PAGE_IDS)
def test_links_resolve(path: Path) -> None:
    for target in links(path):
        if target.startswith(("http://", "https://")):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        assert linked.exists(), f"{name_of(path)} links to a missing file: {target}"
        if anchor:
            assert linked.suffix == ".md", target
            assert anchor in anchors(linked), f"{name_of(path)} links to a missing heading: {target}"


@pytest.mark.parametrize("path", [*PAGES, ROOT / ".env.example"], ids=[*PAGE_IDS, ".env.example"])
def test_cited_files_exist(path: Path) -> None:
    tracked = tracked_files()
    folders = {str(Path(f).parent) for f in tracked} | {str(p) for f in tracked for p in Path(f).parents}
    for cited in CITED.findall(text_of(path)):
        cited = cited.rstrip("/")
        if any(cited == g or cited.startswith(g + "/") for g in GENERATED):
            continue
        exists = cited in tracked or cited in folders or (ROOT / cited).exists()
        assert exists, f"{name_of(path)} cites {cited}, which is not in the repository"


def is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module that is not a package
        return False


@pytest.mark.parametrize("path", PAGES, ids=PAGE_IDS)
def test_cited_modules_and_names_exist(path: Path) -> None:
    for dotted in set(MODULE.findall(text_of(path))):
        parts = dotted.split(".")
        if dotted in LOGGERS:
            continue
        for cut in range(len(parts), 0, -1):
            module = ".".join(parts[:cut])
            if is_module(module):
                break
        else:
            raise AssertionError(f"{name_of(path)} names {dotted}: no such module")
        if cut < len(parts):
            obj = importlib.import_module(module)
            for attr in parts[cut:]:
                assert hasattr(obj, attr), f"{name_of(path)} names {dotted}: {module} has no {attr}"
                obj = getattr(obj, attr)


@pytest.mark.parametrize("path", PAGES, ids=PAGE_IDS)
def test_no_development_diary(path: Path) -> None:
    found = DIARY.findall(text_of(path))
    assert not found, f"{name_of(path)} reads like a diary: {found}"


def test_performance_has_no_commit_hashes_or_history() -> None:
    page = text_of(DOCS / "performance.md")
    hashes = [
        t for t in re.findall(r"\b[0-9a-f]{7,40}\b", page) if re.search(r"[a-f]", t) and re.search(r"\d", t)
    ]
    assert not hashes, f"docs/performance.md cites commits: {hashes}"
    assert not re.search(r"\bcommit\b|earlier runs?\b|\bround\b", page, flags=re.I)
    tables = [b for b in all_blocks() if b.page == "docs/performance.md"]
    assert any("bash scripts/bench.sh" in b.code for b in tables)
    assert page.count("| qwq-gateway /qwq-32b |") == 2, "one requests table and one streams table"


def test_the_two_commands_are_in_the_readme_as_ci_runs_them() -> None:
    first = next(b for b in all_blocks() if b.page == "README.md" and b.lang == "sh")
    commands = [line.split("#")[0].strip() for line in first.code.splitlines()]
    assert commands == ["API_KEYS=change-me bash scripts/serve.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
