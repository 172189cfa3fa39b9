"""The docs hold together: links resolve, nothing points outside the repository, every command and every
error code is documented where a reader looks for it."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import unicodedata
from pathlib import Path

import click

import server
from server.errors import CATALOGUE

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = heading.strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def _links(path: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", path.read_text(encoding="utf-8")))


def test_every_relative_link_in_the_docs_resolves():
    broken = []
    for doc in DOCS:
        for target in _links(doc):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: …
                continue
            file, _, anchor = target.partition("#")
            resolved = (doc.parent / file).resolve() if file else doc
            if not resolved.exists() or ROOT not in (resolved, *resolved.parents):
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def test_the_readme_links_every_document():
    links = {target.partition("#")[0] for target in _links(ROOT / "README.md")}
    expected = {f"docs/{doc.name}" for doc in DOCS if doc.parent.name == "docs"}
    assert {"docs/architecture.md", "docs/api.md", "docs/operations.md"} <= expected
    assert expected - links == set()


def test_no_tracked_file_points_outside_the_repository():
    """The product spec lives outside the repository, beside the clone: no tracked file names its folder or
    file (the pattern is spelled in pieces so that this file does not name them either)."""
    pattern = r"\.\./" + "shared|" + "DESIGN" + r"\.md"
    found = subprocess.run(
        ["git", "grep", "-nE", pattern, "--", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert found.returncode in (0, 1), found.stderr  # 1: no match
    assert found.stdout == ""


def _commands() -> list[str]:
    """Every leaf command of `codeloop`, as typed: `codeloop batch create`."""
    for module in pkgutil.iter_modules(server.__path__):  # the groups register themselves on import
        if module.name.startswith("cli") or module.name.endswith("_cli"):
            importlib.import_module(f"server.{module.name}")
    from server.cli import cli

    def walk(group: click.Group, prefix: list[str]):
        for name, command in sorted(group.commands.items()):
            if isinstance(command, click.Group):
                yield from walk(command, [*prefix, name])
            else:
                yield " ".join([*prefix, name])

    return list(walk(cli, ["codeloop"]))


def test_every_command_is_in_the_readmes_command_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `codeloop")]
    typed = [re.match(r"\| `([^`]*)`", row).group(1) for row in rows]
    commands = _commands()
    assert len(commands) > 10
    missing = [c for c in commands if not any(t == c or t.startswith(c + " ") for t in typed)]
    assert missing == []


def test_every_error_code_is_explained_in_the_contract():
    contract = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([A-Z_]+)` \|", contract, re.M))
    assert sorted(set(CATALOGUE) - rows) == []
    assert sorted(rows - set(CATALOGUE)) == []  # no code the server no longer has
