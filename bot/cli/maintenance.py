"""`geobot check`: whether the knowledge base is sound, without changing it; `geobot
migrate`: copy it into another storage backend."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.context import app_context
from bot.cli.options import common_options, echo_json
from bot.cli.rendering import echo
from index import GeobotError

if TYPE_CHECKING:  # loaded by the commands that use them, not by `geobot --help`
    from bot.config import BotConfig
    from index.storage.health import FileHealth, StoreHealth

__all__ = ["check", "migrate"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def check(as_json: bool, config_path: Path | None, data_dir: Path | None) -> None:
    """Check the knowledge base for damage: SQLite's integrity check of the database, and
    the vector index against the stored vectors (count, ids, checksum). Changes nothing;
    exit status 0 when all is sound, 1 when something is damaged."""
    app = app_context(config_path, data_dir)
    folder = app.config.resolved_data_dir().expanduser()
    if app.config.storage.backend != "sqlite":
        _check_backend(app.config, folder, as_json)
        return
    from index.knowledge_base import DB_NAME, INDEX_NAME
    from index.storage.health import check_store

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


def _check_backend(config: BotConfig, folder: Path, as_json: bool) -> None:
    """Another backend: it is reachable and answers counts (its engine checks its files)."""
    from index.storage.factory import open_backend

    with open_backend(config, folder) as store:
        articles, passages = store.article_count(), store.passage_count()
    row = {"healthy": True, "backend": config.storage.backend, "articles": articles}
    if as_json:
        echo_json({**row, "passages": passages})
    else:
        echo(f"{config.storage.backend}:    reachable; {articles} articles, {passages} passages")
        echo("healthy")


@click.command()
@click.option(
    "--to",
    "target_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The configuration file of the target library ([storage] and data_dir).",
)
@common_options
def migrate(target_path: Path, config_path: Path | None, data_dir: Path | None) -> None:
    """Copy the library into the storage backend of another configuration, vectors
    included (nothing is embedded again), then compare the counts. Run again after an
    interruption: what is copied already is skipped. Feeds are not copied (they are state:
    `geobot state copy`)."""
    from tqdm import tqdm

    from bot.config import BotConfig
    from index import load_config
    from index.storage.factory import open_backend
    from index.storage.migration import copy_library

    app = app_context(config_path, data_dir)
    source_dir = app.config.resolved_data_dir().expanduser()
    # The target is what its file says: GEOBOT_* variables set for the source stay out.
    target = load_config(target_path, environ={}, schema=BotConfig)
    target_dir = target.resolved_data_dir().expanduser()
    if (target.storage, target_dir) == (app.config.storage, source_dir):
        raise GeobotError("the target is the library itself: name another data_dir or backend")
    with (
        open_backend(app.config, source_dir) as source,
        open_backend(target, target_dir) as dest,
        tqdm(unit="article", file=sys.stderr, disable=None, leave=False) as bar,
    ):

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = copy_library(source, dest, on_progress=progress)
    echo(
        f"migrated to {target.storage.backend} ({target_dir}): {report.copied} articles copied,"
        f" {report.unchanged} already there; {report.articles} articles and"
        f" {report.passages} passages in both"
    )
