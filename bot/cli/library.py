"""Commands that fill and look after the library: ingest, sources, remove, stats,
reindex (`check` is in :mod:`bot.cli.maintenance`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.context import app_context
from bot.cli.options import common_options, echo_json, library_is_empty
from bot.cli.rendering import article_row, credit, echo, format_date
from index.models import IngestReport

if TYPE_CHECKING:  # loaded by the commands that use them, not by `geobot --help`
    from bot.config import BotConfig
    from index import KnowledgeBase

__all__ = ["ingest", "merge_reports", "reindex", "remove", "sources", "stats"]


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="PATH_OR_URL...")
@click.option(
    "--follow-links",
    is_flag=True,
    help="Read files and folders named here that are symbolic links. Links inside a "
    "folder are followed only when they point inside it, with or without this.",
)
@common_options
def ingest(
    inputs: tuple[str, ...], follow_links: bool, config_path: Path | None, data_dir: Path | None
) -> None:
    """Add articles from files or folders (text, Markdown, HTML, JSON, JSON Lines) or from
    http(s):// URLs of article pages."""
    from tqdm import tqdm

    from index.web.polling import is_url

    urls = [item for item in inputs if is_url(item)]
    paths = [Path(item) for item in inputs if not is_url(item)]
    app = app_context(config_path, data_dir)
    with app.knowledge_base() as kb:
        bar: tqdm[Any] | None = None

        def progress(done: int, total: int, path: Path) -> None:
            nonlocal bar
            if bar is None and total > 1:
                bar = tqdm(total=total, unit="file", file=sys.stderr, disable=None, leave=False)
            if bar is not None:
                bar.n = done
                bar.set_postfix_str(path.name[-30:], refresh=True)

        report = (
            kb.ingest(paths, on_progress=progress, follow_links=follow_links)
            if paths
            else IngestReport()
        )
        if bar is not None:
            bar.close()
        if urls:
            import asyncio  # here: only an ingest of URLs needs it

            report = merge_reports(report, asyncio.run(_ingest_urls(kb, app.config, urls)))
    echo(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"failed {len(report.failed)} ({report.passages_embedded} passages embedded)"
    )
    for failure in report.failed:
        echo(f"  failed: {failure.source}: {failure.reason}", err=True)
    if report.failed and not (report.added or report.updated or report.unchanged):
        sys.exit(1)


async def _ingest_urls(kb: KnowledgeBase, config: BotConfig, urls: list[str]) -> IngestReport:
    from index.web.fetch import Fetcher
    from index.web.polling import ingest_urls

    async with Fetcher(config.fetch) as fetcher:
        return await ingest_urls(kb, fetcher, urls)


def merge_reports(first: IngestReport, second: IngestReport) -> IngestReport:
    return IngestReport(
        added=first.added + second.added,
        updated=first.updated + second.updated,
        unchanged=first.unchanged + second.unchanged,
        removed=first.removed + second.removed,
        passages_embedded=first.passages_embedded + second.passages_embedded,
        failed=first.failed + second.failed,
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=int, default=None, help="Show at most this many.")
@common_options
def sources(
    as_json: bool, limit: int | None, config_path: Path | None, data_dir: Path | None
) -> None:
    """List the stored articles, newest first."""
    app = app_context(config_path, data_dir)
    if library_is_empty(app):
        if as_json:
            echo_json([])
        return
    with app.knowledge_base() as kb:
        articles = kb.list_articles(limit=limit)
    if as_json:
        echo_json([article_row(a) for a in articles])
        return
    echo(f"{'id':>5}  {'date':10}  {'outlet':18}  {'passages':>8}  title")
    for a in articles:
        outlet = (credit(a.outlet, a.country) or "-")[:18]
        echo(
            f"{a.id:>5}  {format_date(a.published):10}  {outlet:18}  "
            f"{a.passage_count:>8}  {a.title[:80]}"
        )


@click.command()
@click.argument("article_id", type=int)
@common_options
def remove(article_id: int, config_path: Path | None, data_dir: Path | None) -> None:
    """Delete an article and its passages everywhere."""
    app = app_context(config_path, data_dir)
    # Opening the knowledge base of an empty library would load the model first.
    app.check_article(article_id)
    with app.knowledge_base() as kb:
        removed = kb.remove(article_id)
    echo(f"removed article {removed.id}: {removed.title}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def stats(as_json: bool, config_path: Path | None, data_dir: Path | None) -> None:
    """Show what the knowledge base holds."""
    app = app_context(config_path, data_dir)
    # The figures still follow: where the library is and which model it uses.
    library_is_empty(app)
    with app.knowledge_base() as kb:
        found = kb.stats()
    if as_json:
        echo_json(found)
        return
    echo(f"data dir:   {found.data_dir}")
    echo(f"articles:   {found.articles}")
    echo(f"passages:   {found.passages} ({found.vectors} vectors)")
    echo(f"dates:      {format_date(found.earliest)} to {format_date(found.latest)}")
    echo(f"model:      {found.model} ({found.dimension} dimensions)")
    engine = "" if ":" in found.index_factory else "FAISS "  # "milvus:HNSW" says itself
    echo(f"index:      {engine}{found.index_factory}")
    echo(f"disk:       {found.disk_bytes / 1e6:.1f} MB")
    if found.outlets:
        echo("outlets:    " + ", ".join(f"{o} ({n})" for o, n in found.outlets[:10]))


@click.command()
@common_options
def reindex(config_path: Path | None, data_dir: Path | None) -> None:
    """Rebuild the vector index; re-embed every passage if the configured model changed."""
    app = app_context(config_path, data_dir)
    with app.knowledge_base(allow_model_change=True) as kb:
        embedded = kb.reindex(
            on_progress=lambda done, total: echo(f"  re-embedded {done}/{total} articles", err=True)
        )
        found = kb.stats()
    how = f"re-embedded {embedded} passages" if embedded else "rebuilt from stored vectors"
    echo(f"reindexed {found.passages} passages ({how}) with {found.model}")
