"""`geobot check`: whether the knowledge base's files are sound, without changing them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.context import app_context
from bot.cli.options import common_options, echo_json
from bot.cli.rendering import echo
from index.knowledge_base import DB_NAME, INDEX_NAME
from index.storage.health import FileHealth, StoreHealth, check_store

__all__ = ["check"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def check(as_json: bool, config_path: Path | None, data_dir: Path | None) -> None:
    """Check the knowledge base for damage: SQLite's integrity check of the database, and
    the vector index against the stored vectors (count, ids, checksum). Changes nothing;
    exit status 0 when all is sound, 1 when something is damaged."""
    app = app_context(config_path, data_dir)
    folder = app.config.resolved_data_dir().expanduser()
    health = check_store(folder / DB_NAME, folder / INDEX_NAME)
    if as_json:
        echo_json(health_row(health))
    else:
        echo(f"data dir:  {health.data_dir}")
        _echo_file("database:", health.database, _contents(health))
        _echo_file("vectors:", health.vectors, None)
        if health.healthy:
            echo("healthy")
        for advice in health.advice:
            echo(f"what to do: {advice}")
    if not health.healthy:
        sys.exit(1)


def health_row(health: StoreHealth) -> dict[str, object]:
    def file_row(checked: FileHealth) -> dict[str, object]:
        return {
            "path": str(checked.path),
            "ok": checked.ok,
            "checked": checked.checked,
            "problems": list(checked.problems),
            "notes": list(checked.notes),
        }

    return {
        "healthy": health.healthy,
        "data_dir": str(health.data_dir),
        "articles": health.articles,
        "passages": health.passages,
        "database": file_row(health.database),
        "vectors": file_row(health.vectors),
        "advice": list(health.advice),
    }


def _contents(health: StoreHealth) -> str | None:
    if health.articles is None or health.passages is None:
        return None
    return f"{health.articles} articles, {health.passages} passages"


def _echo_file(label: str, checked: FileHealth, summary: str | None) -> None:
    state = "not checked" if not checked.checked else "ok" if checked.ok else "DAMAGED"
    details = [summary] if summary and checked.ok else []
    echo(f"{label:10} {state} ({checked.path.name}{''.join(f'; {d}' for d in details)})")
    for problem in checked.problems:
        echo(f"{'':10}   problem: {problem}")
    for note in checked.notes:
        echo(f"{'':10}   note: {note}")
