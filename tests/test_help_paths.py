"""Every file a `--help` text names exists: in the repository, or written by the example itself.

Walks every command of `dacu` (the stage commands too), reads its help and each option's help, and
checks each path-like word: nothing outside the project (`../shared/…`), and a path with a folder
exists in the repository unless the folder is one the examples write (`sim/`, `plan/`, …).
A bare file name (`cart.json`, `订单明细.csv`) is the user's own file and is not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from dacu.cli import STAGE_COMMANDS, _available, _LazyStageCommand, app, click

ROOT = Path(__file__).resolve().parents[1]
# Folders that the examples in the help texts write before they read from them.
OUTPUT_DIRS = {"sim", "plan", "out", "review", "hist", "plan-out", "demo-out", "monitor", "kpi"}
PATH_WORD = re.compile(r"(?<![\w:/.])((?:\.\./|[\w.-]+/)[\w./-]*[\w/])")
FILE_END = re.compile(r"\.(ya?ml|csv|tsv|json|parquet|xlsx|txt|gz|py|md|ics|html|pptx|duckdb|db)$")
PROJECT_DIRS = ("../", "examples/", "docs/", "src/", "tests/", "benchmarks/")


def _is_path(word: str) -> bool:
    """A file or folder, not `A/B` or `CSV/Excel/Parquet`: it ends like a file or a folder, or
    starts in a project folder; its folders have no dot (`pos.txt/neg.txt` are alternatives)."""
    if re.search(r"\b[A-Z]{3,}\b", word.split("/")[-1]):  # a placeholder: benchmarks/NAME.py
        return False
    folders = word.rstrip("/").split("/")[:-1]
    if any("." in f and f != ".." for f in folders):
        return False
    return bool(FILE_END.search(word)) or word.endswith("/") or word.startswith(PROJECT_DIRS)


def all_commands() -> list[tuple[str, click.Command]]:
    root = typer.main.get_group(app)
    found: list[tuple[str, click.Command]] = [("dacu", root)]
    ctx = click.Context(root)
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        if name in STAGE_COMMANDS and _available(name):
            command = _LazyStageCommand(name, *STAGE_COMMANDS[name]).real()
        found += _walk(f"dacu {name}", command)
    return found


def _walk(name: str, command: click.Command) -> list[tuple[str, click.Command]]:
    out = [(name, command)]
    if hasattr(command, "list_commands"):  # a group (typer carries its own click)
        ctx = click.Context(command)
        for sub in command.list_commands(ctx):
            out += _walk(f"{name} {sub}", command.get_command(ctx, sub))
    return out


def help_texts(command: click.Command) -> list[str]:
    texts = [command.help or "", command.epilog or ""]
    texts += [getattr(p, "help", None) or "" for p in command.params]
    return texts


def bad_paths(text: str) -> list[str]:
    bad = []
    for match in PATH_WORD.finditer(text):
        word = match.group(1).rstrip(".")
        if not _is_path(word):
            continue
        if word.startswith("../"):
            bad.append(f"{word} (outside the project)")
            continue
        first = word.split("/")[0]
        if first in OUTPUT_DIRS or first == "OUT" or (ROOT / word).exists():  # OUT: --out
            continue
        bad.append(word)
    return bad


def test_the_walk_finds_every_stage_and_its_subcommands() -> None:
    names = {name for name, _ in all_commands()}
    assert {"dacu import events", "dacu plan build", "dacu report review", "dacu kpi"} <= names
    assert len(names) > 40


def test_the_check_catches_what_the_issue_found() -> None:
    assert bad_paths("dacu import events x.csv --mapping examples/mapping_missing.yaml") == [
        "examples/mapping_missing.yaml"
    ]
    assert bad_paths("../shared/data/x.csv") == ["../shared/data/x.csv (outside the project)"]
    assert bad_paths("dacu sim --out sim/ && dacu import folder sim/ examples/double11.yaml") == []
    assert bad_paths("duckdb:///dacu.duckdb, redis://127.0.0.1:6379/0, /api/events") == []


def test_every_file_named_in_a_help_text_exists() -> None:
    problems = [
        f"{name}: {word}"
        for name, command in all_commands()
        for text in help_texts(command)
        for word in bad_paths(text)
    ]
    assert problems == []


def test_the_starter_file_points_to_docs_that_exist() -> None:
    starter = (ROOT / "src" / "dacu" / "starter_campaign.yaml").read_text(encoding="utf-8")
    assert "README" not in starter
    for doc in re.findall(r"docs/[\w.-]+\.md", starter):
        assert (ROOT / doc).exists(), doc
    assert '"Promotion YAML"' in starter
    assert "## Promotion YAML" in (ROOT / "docs" / "promo.md").read_text(encoding="utf-8")
