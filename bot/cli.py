"""`geobot`: the command line front end.

Every command takes ``--config PATH`` (or ``GEOBOT_CONFIG``) and ``--data-dir PATH`` (or
``GEOBOT_DATA_DIR``). Library errors become one clear line on stderr and exit status 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from index import Config, GeobotError, KnowledgeBase, load_config
from index.models import Article, SearchHit

F = TypeVar("F", bound=Callable[..., Any])


class AppContext:
    """What a command needs, built lazily: loading the model takes seconds."""

    def __init__(self, config_path: Path | None, data_dir: Path | None) -> None:
        self.config_path = config_path
        self.data_dir = data_dir

    @functools.cached_property
    def config(self) -> Config:
        return load_config(self.config_path, data_dir=self.data_dir)

    def embedder(self) -> Any:
        from index.embedding import LazyEmbedder

        return LazyEmbedder(
            self.config.embedding, cache_dir=self.config.resolved_data_dir() / "models"
        )

    @contextmanager
    def knowledge_base(self, *, allow_model_change: bool = False) -> Iterator[KnowledgeBase]:
        kb = KnowledgeBase.open(self.config, self.embedder(), allow_model_change=allow_model_change)
        try:
            yield kb
        finally:
            kb.close()


def common_options(command: F) -> F:
    """--config and --data-dir on every command, after the command name too."""
    command = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="GEOBOT_DATA_DIR",
        help="Where the knowledge base lives [env: GEOBOT_DATA_DIR].",
    )(command)
    command = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="GEOBOT_CONFIG",
        help="Configuration file (TOML) [env: GEOBOT_CONFIG].",
    )(command)
    return command


def _app(config_path: Path | None, data_dir: Path | None) -> AppContext:
    parent = click.get_current_context().find_object(AppContext)
    return AppContext(
        config_path or (parent.config_path if parent else None),
        data_dir or (parent.data_dir if parent else None),
    )


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def echo_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def parse_date_option(value: str | None, *, end: bool = False) -> datetime | None:
    """A --since/--until value: YYYY-MM-DD (or a full ISO time). --until is inclusive."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None
    if end and len(value) <= 10:
        parsed = parsed.replace(hour=23, minute=59, second=59)
    return parsed


def format_date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "undated"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="geobot")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, data_dir: Path | None, verbose: int) -> None:
    """geobot: answers about geopolitics from your library of news articles, with citations."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="geobot: %(levelname)s: %(message)s")
    for noisy in ("sentence_transformers", "transformers", "httpx", "faiss"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    ctx.obj = AppContext(config_path, data_dir)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@common_options
def ingest(paths: tuple[Path, ...], config_path: Path | None, data_dir: Path | None) -> None:
    """Add articles from files or folders (text, Markdown, JSON, JSON Lines)."""
    from tqdm import tqdm

    app = _app(config_path, data_dir)
    with app.knowledge_base() as kb:
        bar: tqdm[Any] | None = None

        def progress(done: int, total: int, path: Path) -> None:
            nonlocal bar
            if bar is None and total > 1:
                bar = tqdm(total=total, unit="file", file=sys.stderr, disable=None, leave=False)
            if bar is not None:
                bar.n = done
                bar.set_postfix_str(path.name[-30:], refresh=True)

        report = kb.ingest(paths, on_progress=progress)
        if bar is not None:
            bar.close()
    click.echo(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"failed {len(report.failed)} ({report.passages_embedded} passages embedded)"
    )
    for failure in report.failed:
        click.echo(f"  failed: {failure.source}: {failure.reason}", err=True)
    if report.failed and not (report.added or report.updated or report.unchanged):
        sys.exit(1)


def article_row(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "published": article.published,
        "outlet": article.outlet,
        "country": article.country,
        "title": article.title,
        "url": article.url,
        "passages": article.passage_count,
    }


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=int, default=None, help="Show at most this many.")
@common_options
def sources(
    as_json: bool, limit: int | None, config_path: Path | None, data_dir: Path | None
) -> None:
    """List the stored articles, newest first."""
    app = _app(config_path, data_dir)
    with app.knowledge_base() as kb:
        articles = kb.list_articles(limit=limit)
    if as_json:
        echo_json([article_row(a) for a in articles])
        return
    if not articles:
        click.echo("No articles yet. Add some with: geobot ingest PATH")
        return
    click.echo(f"{'id':>5}  {'date':10}  {'outlet':18}  {'passages':>8}  title")
    for a in articles:
        outlet = (a.outlet or "-")[:18]
        click.echo(
            f"{a.id:>5}  {format_date(a.published):10}  {outlet:18}  "
            f"{a.passage_count:>8}  {a.title[:80]}"
        )


def hit_row(hit: SearchHit) -> dict[str, Any]:
    return {
        "rank": hit.rank,
        "score": round(hit.score, 6),
        "dense_score": hit.dense_score,
        "keyword_score": hit.keyword_score,
        "article_id": hit.article.id,
        "title": hit.article.title,
        "outlet": hit.article.outlet,
        "published": hit.article.published,
        "url": hit.article.url,
        "passage_id": hit.passage.id,
        "start": hit.passage.start,
        "end": hit.passage.end,
        "text": hit.passage.text,
    }


@cli.command()
@click.argument("query")
@click.option("-k", type=click.IntRange(1, 100), default=None, help="How many passages.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default=None)
@click.option("--since", help="Only articles published on or after YYYY-MM-DD.")
@click.option("--until", help="Only articles published on or before YYYY-MM-DD.")
@click.option("--outlet", help="Only articles from this outlet.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def search(
    query: str,
    k: int | None,
    mode: str | None,
    since: str | None,
    until: str | None,
    outlet: str | None,
    as_json: bool,
    config_path: Path | None,
    data_dir: Path | None,
) -> None:
    """Show the passages that best match QUERY."""
    app = _app(config_path, data_dir)
    with app.knowledge_base() as kb:
        hits = kb.search(
            query,
            k=k,
            mode=mode,  # type: ignore[arg-type]
            since=parse_date_option(since),
            until=parse_date_option(until, end=True),
            outlet=outlet,
        )
    if as_json:
        echo_json([hit_row(h) for h in hits])
        return
    if not hits:
        click.echo("No passages found.")
        return
    for hit in hits:
        a = hit.article
        click.echo(
            f"{hit.rank}. {a.title}\n   {a.outlet or 'unknown outlet'}, "
            f"{format_date(a.published)} · article {a.id} · score {hit.score:.4f}"
        )
        snippet = textwrap.shorten(hit.passage.text, 400, placeholder=" …")
        click.echo(textwrap.indent(textwrap.fill(snippet, 88), "   ") + "\n")


@cli.command()
@click.argument("article_id", type=int)
@common_options
def remove(article_id: int, config_path: Path | None, data_dir: Path | None) -> None:
    """Delete an article and its passages everywhere."""
    app = _app(config_path, data_dir)
    with app.knowledge_base() as kb:
        removed = kb.remove(article_id)
    click.echo(f"removed article {removed.id}: {removed.title}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def stats(as_json: bool, config_path: Path | None, data_dir: Path | None) -> None:
    """Show what the knowledge base holds."""
    app = _app(config_path, data_dir)
    with app.knowledge_base() as kb:
        found = kb.stats()
    if as_json:
        echo_json(found)
        return
    click.echo(f"data dir:   {found.data_dir}")
    click.echo(f"articles:   {found.articles}")
    click.echo(f"passages:   {found.passages} ({found.vectors} vectors)")
    click.echo(f"dates:      {format_date(found.earliest)} to {format_date(found.latest)}")
    click.echo(f"model:      {found.model} ({found.dimension} dimensions)")
    click.echo(f"index:      FAISS {found.index_factory}")
    click.echo(f"disk:       {found.disk_bytes / 1e6:.1f} MB")
    if found.outlets:
        click.echo("outlets:    " + ", ".join(f"{o} ({n})" for o, n in found.outlets[:10]))


@cli.command()
@common_options
def reindex(config_path: Path | None, data_dir: Path | None) -> None:
    """Rebuild the vector index; re-embed every passage if the configured model changed."""
    app = _app(config_path, data_dir)
    with app.knowledge_base(allow_model_change=True) as kb:
        embedded = kb.reindex(
            on_progress=lambda done, total: click.echo(
                f"  re-embedded {done}/{total} articles", err=True
            )
        )
        found = kb.stats()
    how = f"re-embedded {embedded} passages" if embedded else "rebuilt from stored vectors"
    click.echo(f"reindexed {found.passages} passages ({how}) with {found.model}")


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="geobot", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except GeobotError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
