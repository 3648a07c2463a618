"""`geobot`: the command line front end.

Every command takes ``--config PATH`` (or ``GEOBOT_CONFIG``) and ``--data-dir PATH`` (or
``GEOBOT_DATA_DIR``). Library errors become one clear line on stderr and exit status 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.answers.models import Answer
from bot.jsonable import to_jsonable

if TYPE_CHECKING:
    from bot.answers.llm import LLMWriter
    from bot.answers.service import AnswerService
    from index.web.polling import PollReport
from bot.config import BotConfig
from bot.feed_reports import describe_feed_report
from index import Embedder, GeobotError, KnowledgeBase, load_config
from index.models import Article, IngestReport, SearchHit

F = TypeVar("F", bound=Callable[..., Any])


class AppContext:
    """What a command needs, built lazily: loading the model takes seconds."""

    def __init__(
        self,
        config_path: Path | None,
        data_dir: Path | None,
        *,
        embedder_factory: Callable[[BotConfig], Embedder] | None = None,
    ) -> None:
        self.config_path = config_path
        self.data_dir = data_dir
        # Tests pass a factory of fake embedders; by default the configured model loads
        # lazily, on first use.
        self.embedder_factory = embedder_factory

    @functools.cached_property
    def config(self) -> BotConfig:
        return load_config(self.config_path, data_dir=self.data_dir, schema=BotConfig)

    def embedder(self) -> Embedder:
        if self.embedder_factory is not None:
            return self.embedder_factory(self.config)
        from index.embedding.sentence_transformer import LazyEmbedder

        return LazyEmbedder(
            self.config.embedding, cache_dir=self.config.resolved_data_dir() / "models"
        )

    @contextmanager
    def service(self, *, llm: bool | None = None) -> Iterator[AnswerService]:
        """The answer service; `llm` (default: the config's `[llm] enabled`) writes answers
        with the configured language model server."""
        from bot.answers.service import AnswerService

        writer = self.writer(llm)
        try:
            with self.knowledge_base() as kb:
                # Load the model now, so the first answer's timings measure answering.
                kb.embedder.embed_query("warm up")
                yield AnswerService(kb, self.config.answers, writer=writer)
        finally:
            if writer is not None:
                writer.close()

    def writer(self, llm: bool | None = None) -> LLMWriter | None:
        """The language model writer when `llm` (default: `[llm] enabled`) asks for one."""
        from bot.answers.llm import writer_from_config

        use_llm = self.config.llm.enabled if llm is None else llm
        return writer_from_config(self.config.llm) if use_llm else None

    @contextmanager
    def knowledge_base(self, *, allow_model_change: bool = False) -> Iterator[KnowledgeBase]:
        kb = KnowledgeBase.open(self.config, self.embedder(), allow_model_change=allow_model_change)
        try:
            yield kb
        finally:
            kb.close()


llm_option = click.option(
    "--llm/--no-llm",
    "use_llm",
    default=None,
    help="Have the configured language model write it (every sentence checked against "
    "its sources) [default: the config's llm.enabled].",
)


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
        embedder_factory=parent.embedder_factory if parent else None,
    )


def echo_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def parse_day_option(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


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


COUNTRY_HELP = "Only articles from outlets of this country (ISO code, e.g. GB)."


def check_country(value: str | None) -> str | None:
    from index.sources.outlets import country_code

    if value is None:
        return None
    code = country_code(value)
    if code is None:
        raise click.BadParameter(f"{value!r} is not a two-letter country code such as GB")
    return code


def format_date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "undated"


class GeobotGroup(click.Group):
    """Turns a library error into Click's one-line "Error: ..." and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GeobotError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=GeobotGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    factory = ctx.obj.embedder_factory if isinstance(ctx.obj, AppContext) else None
    ctx.obj = AppContext(config_path, data_dir, embedder_factory=factory)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, metavar="PATH_OR_URL...")
@common_options
def ingest(inputs: tuple[str, ...], config_path: Path | None, data_dir: Path | None) -> None:
    """Add articles from files or folders (text, Markdown, HTML, JSON, JSON Lines) or from
    http(s):// URLs of article pages."""
    from tqdm import tqdm

    from index.web.polling import is_url

    urls = [item for item in inputs if is_url(item)]
    paths = [Path(item) for item in inputs if not is_url(item)]
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

        report = kb.ingest(paths, on_progress=progress) if paths else IngestReport()
        if bar is not None:
            bar.close()
        if urls:
            report = merge_reports(report, asyncio.run(_ingest_urls(kb, app.config, urls)))
    click.echo(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"failed {len(report.failed)} ({report.passages_embedded} passages embedded)"
    )
    for failure in report.failed:
        click.echo(f"  failed: {failure.source}: {failure.reason}", err=True)
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
        outlet = (credit(a.outlet, a.country) or "-")[:18]
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
        "country": hit.article.country,
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
@click.option("--country", callback=lambda _c, _p, v: check_country(v), help=COUNTRY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def search(
    query: str,
    k: int | None,
    mode: str | None,
    since: str | None,
    until: str | None,
    outlet: str | None,
    country: str | None,
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
            country=country,
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
            f"{hit.rank}. {a.title}\n   {credit(a.outlet, a.country) or 'unknown outlet'}, "
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


def format_day(value: date | datetime | None) -> str:
    if value is None:
        return "undated"
    return f"{value.day} {value:%b %Y}"


def credit(outlet: str | None, country: str | None) -> str:
    """ "Reuters (GB)", "Reuters", or "" when the outlet is unknown."""
    return f"{outlet} ({country})" if outlet and country else outlet or ""


def source_line(
    number: int, title: str, outlet: str | None, country: str | None, published: datetime | None
) -> str:
    """ "[2] Title — Reuters (GB), 4 Mar 2025"; unknown parts are left out, not guessed."""
    where = ", ".join(part for part in (credit(outlet, country), format_day(published)) if part)
    return f"[{number}] {title} — {where}"


def render_answer(answer: Answer) -> str:
    """An answer as a terminal shows it: text, numbered sources, a footer."""
    lines = [textwrap.fill(p, 88) if p else "" for p in answer.text.split("\n")]
    out = ["\n".join(lines), ""]
    if answer.sources:
        out.append("Closest sources:" if answer.declined else "Sources:")
        for s in answer.sources:
            out.append("  " + source_line(s.number, s.title, s.outlet, s.country, s.published))
            if s.url:
                out.append(f"      {s.url}")
        out.append("")
    footer = []
    if answer.window is not None:
        kind = "only" if answer.window.strict else "preferring"
        footer.append(f"dates: {kind} {answer.window.description}")
    if answer.coverage is not None and answer.coverage[0] is not None:
        first, last = answer.coverage
        span = format_day(first) if first == last else f"{format_day(first)} to {format_day(last)}"
        footer.append(f"sources cover {span}")
    how = "declined" if answer.declined else ", ".join(answer.provenance)
    footer.append(f"{how}; {answer.timings.total_ms:.0f} ms")
    out.append(" · ".join(footer))
    for note in answer.notes:
        if answer.declined:
            continue
        out.append(f"note: {note}")
    return "\n".join(out)


@cli.command()
@click.argument("question")
@click.option("--since", help="Only sources published on or after YYYY-MM-DD.")
@click.option("--until", help="Only sources published on or before YYYY-MM-DD.")
@click.option("--as-of", "as_of", help="Read 'this week', 'latest'... as of YYYY-MM-DD.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid")
@click.option("--outlet", help="Only sources from this outlet.")
@click.option("--country", callback=lambda _c, _p, v: check_country(v), help=COUNTRY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@llm_option
@common_options
def ask(
    question: str,
    since: str | None,
    until: str | None,
    as_of: str | None,
    mode: str,
    outlet: str | None,
    country: str | None,
    as_json: bool,
    use_llm: bool | None,
    config_path: Path | None,
    data_dir: Path | None,
) -> None:
    """Answer QUESTION from the articles, citing a source for every sentence."""
    app = _app(config_path, data_dir)
    with app.service(llm=use_llm) as service:
        answer = service.ask(
            question,
            since=parse_day_option(since),
            until=parse_day_option(until),
            as_of=parse_day_option(as_of),
            mode=mode,  # type: ignore[arg-type]
            outlet=outlet,
            country=country,
        )
    click.echo(
        json.dumps(to_jsonable(answer), indent=2, ensure_ascii=False)
        if as_json
        else render_answer(answer)
    )


@cli.command()
@click.option("--article", "article_id", type=int, help="Summarise this article (its id).")
@click.option("--topic", help="Summarise what the articles say about this topic.")
@click.option("--since", help="Topic: only sources published on or after YYYY-MM-DD.")
@click.option("--until", help="Topic: only sources published on or before YYYY-MM-DD.")
@click.option("--as-of", "as_of", help="Read dates in the topic as of YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@llm_option
@common_options
def summarize(
    article_id: int | None,
    topic: str | None,
    since: str | None,
    until: str | None,
    as_of: str | None,
    as_json: bool,
    use_llm: bool | None,
    config_path: Path | None,
    data_dir: Path | None,
) -> None:
    """Summarise one article (--article ID) or a topic across articles (--topic TEXT)."""
    if (article_id is None) == (topic is None):
        raise click.UsageError("give exactly one of --article ID or --topic TEXT")
    app = _app(config_path, data_dir)
    with app.service(llm=use_llm) as service:
        if article_id is not None:
            answer = service.summarize_article(article_id)
        else:
            answer = service.summarize_topic(
                topic or "",
                since=parse_day_option(since),
                until=parse_day_option(until),
                as_of=parse_day_option(as_of),
            )
    click.echo(
        json.dumps(to_jsonable(answer), indent=2, ensure_ascii=False)
        if as_json
        else render_answer(answer)
    )


@cli.command()
@click.option("--as-of", "as_of", help="Read 'this week', 'latest'... as of YYYY-MM-DD.")
@llm_option
@common_options
def chat(
    as_of: str | None, use_llm: bool | None, config_path: Path | None, data_dir: Path | None
) -> None:
    """Ask questions in a row; follow-ups are read in the context of earlier ones."""
    from bot.answers.chat import Conversation

    app = _app(config_path, data_dir)
    with app.service(llm=use_llm) as service:
        conversation = Conversation(service, as_of=parse_day_option(as_of))
        click.echo(
            "Ask about the news. Follow-ups understand earlier questions. "
            "/new starts over; /quit or Ctrl-D leaves."
        )
        while True:
            try:
                question = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
            except (EOFError, click.exceptions.Abort):
                click.echo()
                return
            question = question.strip()
            if question in {"/quit", "/exit", "quit", "exit"}:
                return
            if question == "/new":
                conversation.reset()
                click.echo("(new conversation)")
                continue
            if not question:
                continue
            try:
                answer = conversation.ask(question)
            except GeobotError as exc:
                click.echo(f"Error: {exc}", err=True)
                continue
            click.echo("\n" + render_answer(answer) + "\n")


@cli.group(name="eval")
def eval_group() -> None:
    """Measure retrieval and answers on question sets."""


@eval_group.command(name="realtimeqa")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid")
@click.option(
    "--limit",
    type=int,
    default=None,
    help="Only the first N questions, over only the articles found for them.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the corpus index is kept between runs [default: DATA_DIR/eval].",
)
@click.option(
    "--details",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write every question's result to this JSON Lines file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@llm_option
@common_options
def eval_realtimeqa(
    path: Path,
    mode: str,
    limit: int | None,
    cache_dir: Path | None,
    details: Path | None,
    as_json: bool,
    use_llm: bool | None,
    config_path: Path | None,
    data_dir: Path | None,
) -> None:
    """Score answers on RealTimeQA weekly files in PATH (each question as of its date)."""
    from bot.answers.service import AnswerService
    from bot.evaluation.realtimeqa import load_dataset, open_corpus
    from bot.evaluation.scoring import evaluate

    app = _app(config_path, data_dir)
    dataset = load_dataset(path)
    if limit is not None:
        dataset = dataset.subset(limit)
    cache = cache_dir or app.config.resolved_data_dir() / "eval"
    embedder = app.embedder()
    kb = open_corpus(
        dataset,
        app.config,
        embedder,
        cache,
        on_progress=lambda done, total: click.echo(f"  indexed {done}/{total} articles", err=True),
    )
    writer = app.writer(use_llm)
    try:
        service = AnswerService(kb, app.config.answers, writer=writer)
        report = evaluate(dataset, service, mode=mode)  # type: ignore[arg-type]
    finally:
        kb.close()
        if writer is not None:
            writer.close()
    if details is not None:
        with details.open("w", encoding="utf-8") as out:
            for result in report.results:
                out.write(json.dumps(to_jsonable(result), ensure_ascii=False) + "\n")
    figures = {k: v for k, v in to_jsonable(report).items() if k != "results"}
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    click.echo(
        f"RealTimeQA {path} · mode {mode} · {report.questions} questions, "
        f"{report.answerable} answerable"
    )
    rows = [
        ("answer-recall@1", report.recall_at_1),
        ("answer-recall@5", report.recall_at_5),
        ("answer-recall@10", report.recall_at_10),
        ("MRR@10", report.mrr_at_10),
        ("answer-recall@300w", report.recall_at_300w),
        ("answer-recall@1000w", report.recall_at_1000w),
        ("mean passage words", report.mean_passage_words),
        ("answer-hit", report.answer_hit),
        ("mean answer words", report.mean_answer_words),
        ("declined (all)", report.declined),
        ("declined (answerable)", report.declined_answerable),
        ("declined (unanswerable)", report.declined_unanswerable),
        ("mean ms per question", report.mean_ms),
    ]
    for name, value in rows:
        click.echo(f"  {name:24} {value:8.3f}")


@cli.command(name="bot")
@common_options
def run_bot(config_path: Path | None, data_dir: Path | None) -> None:
    """Run the Discord bot (its token comes from the DISCORD_TOKEN environment variable)."""
    import os

    from bot.discord.runner import run

    token = os.environ.get("DISCORD_TOKEN", "").strip()
    if not token:
        raise click.ClickException(
            "DISCORD_TOKEN is not set: export the bot token from the Discord developer "
            "portal as DISCORD_TOKEN (it is never read from a file)"
        )
    app = _app(config_path, data_dir)
    run(app.config, app.embedder, token)


@cli.command()
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@common_options
def feedback(
    fmt: str, output: Path | None, config_path: Path | None, data_dir: Path | None
) -> None:
    """Export the helpful / not helpful votes left on the bot's answers."""
    import csv
    import io

    from bot.state import BotState

    app = _app(config_path, data_dir)
    state = BotState(app.config.resolved_data_dir() / "bot.sqlite3")
    try:
        rows = [to_jsonable(r) for r in state.feedback()]
    finally:
        state.close()
    if fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    else:
        buffer = io.StringIO()
        fields = [
            "answer_id",
            "user_id",
            "helpful",
            "created_at",
            "question",
            "answer_text",
            "declined",
            "sources",
        ]
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "sources": " ".join(row["sources"])})
        text = buffer.getvalue()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(rows)} votes to {output}", err=True)


# -- feeds ------------------------------------------------------------------------------


@cli.group(name="feeds", cls=GeobotGroup)
def feeds_group() -> None:
    """Follow news feeds (RSS, Atom): add, list, remove, poll."""


@feeds_group.command(name="add")
@click.argument("url")
@click.option("--outlet", help="The outlet's name, given to every article of the feed.")
@click.option(
    "--country",
    callback=lambda _c, _p, v: check_country(v),
    help="The outlet's country (ISO code, e.g. GB).",
)
@common_options
def feeds_add(
    url: str,
    outlet: str | None,
    country: str | None,
    config_path: Path | None,
    data_dir: Path | None,
) -> None:
    """Follow the feed at URL; it is polled by `geobot feeds poll` and by the bot."""
    from index.web.feed_store import FeedStore

    app = _app(config_path, data_dir)
    with app.knowledge_base() as kb:
        feed, new = FeedStore(kb.store).add(url, outlet=outlet, country=country)
    what = "added" if new else "updated"
    click.echo(
        f"{what} feed {feed.url}"
        + (f" ({credit(feed.outlet, feed.country)})" if feed.outlet else "")
    )


@feeds_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def feeds_list(as_json: bool, config_path: Path | None, data_dir: Path | None) -> None:
    """Show the feeds followed and how their polling stands."""
    from index.web.feed_store import FeedStore

    app = _app(config_path, data_dir)
    with app.knowledge_base() as kb:
        feeds = FeedStore(kb.store).all()
    if as_json:
        echo_json(feeds)
        return
    if not feeds:
        click.echo("No feeds yet: add one with `geobot feeds add URL`.")
        return
    for feed in feeds:
        who = credit(feed.outlet, feed.country) or feed.title or "outlet unknown"
        polled = _when(feed.last_polled_at) if feed.last_polled_at else "never polled"
        click.echo(
            f"{feed.url}\n   {who} · {feed.entries_ingested} articles · last poll {polled}"
            f" · next {_when(feed.next_poll_at) if feed.next_poll_at else 'now'}"
        )
        if feed.last_error:
            click.echo(f"   last error ({feed.failures} in a row): {feed.last_error}")
        if feed.entries_failed:
            click.echo(f"   {feed.entries_failed} entries failed")


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "-"


@feeds_group.command(name="remove")
@click.argument("url")
@common_options
def feeds_remove(url: str, config_path: Path | None, data_dir: Path | None) -> None:
    """Stop following the feed at URL (the articles it brought stay)."""
    from index.web.feed_store import FeedStore

    app = _app(config_path, data_dir)
    with app.knowledge_base() as kb:
        feed = FeedStore(kb.store).remove(url)
    click.echo(f"removed feed {feed.url} ({feed.entries_ingested} articles from it stay)")


@feeds_group.command(name="poll")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@common_options
def feeds_poll(as_json: bool, config_path: Path | None, data_dir: Path | None) -> None:
    """Poll every feed once: fetch new entries' pages and ingest them."""
    from index.web.feed_store import FeedStore
    from index.web.fetch import Fetcher
    from index.web.polling import FeedPoller

    app = _app(config_path, data_dir)
    with app.knowledge_base() as kb:
        feeds = FeedStore(kb.store)
        if not feeds.all():
            click.echo("No feeds yet: add one with `geobot feeds add URL`.")
            return

        async def run() -> PollReport:
            async with Fetcher(app.config.fetch) as fetcher:
                poller = FeedPoller(
                    kb,
                    feeds,
                    fetcher,
                    app.config,
                    on_feed_done=None if as_json else lambda r: click.echo(describe_feed_report(r)),
                )
                return await poller.poll()

        report = asyncio.run(run())
    if as_json:
        echo_json(report)
    else:
        click.echo(
            f"polled {len(report.feeds)} feeds in {report.seconds:.1f} s: "
            f"{report.new} new articles, {report.failed} failed"
        )
    if report.feeds and all(f.error for f in report.feeds):
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="geobot")


if __name__ == "__main__":
    main()
