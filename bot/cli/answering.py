"""Commands that read the library: search, ask, summarize, chat."""

from __future__ import annotations

import json
import textwrap
from datetime import date, datetime
from pathlib import Path

import click

from bot.answers.models import Answer, AnswerKind, Timings, answer_to_dict
from bot.cli.context import app_context
from bot.cli.options import (
    COUNTRY_HELP,
    check_window,
    common_options,
    country_value,
    day_value,
    echo_json,
    end_value,
    library_is_empty,
    llm_option,
    start_value,
    text_value,
)
from bot.cli.rendering import credit, echo, format_date, hit_row, render_answer
from bot.cli.streaming import StreamedPrinter
from index import GeobotError

__all__ = ["EMPTY_LIBRARY_ANSWER", "ask", "chat", "empty_library_answer", "search", "summarize"]

EMPTY_LIBRARY_ANSWER = "I have no articles yet, so I can't answer this."


def empty_library_answer(question: str, kind: AnswerKind) -> Answer:
    """The declined answer --json prints when there are no articles to answer from."""
    return Answer(
        question=question,
        text=EMPTY_LIBRARY_ANSWER,
        citations=(),
        sources=(),
        declined=True,
        window=None,
        timings=Timings(),
        kind=kind,
    )


def print_answer(answer: Answer, *, as_json: bool, printer: StreamedPrinter | None) -> None:
    """The finished answer: one JSON object, the end of what `printer` streamed, or the
    whole answer rendered for the terminal."""
    if as_json:
        echo(json.dumps(answer_to_dict(answer), indent=2, ensure_ascii=False))
    elif printer is not None:
        printer.finish(answer)
    else:
        echo(render_answer(answer))


@click.command()
@click.argument("query", callback=text_value)
@click.option("-k", type=click.IntRange(1, 100), default=None, help="How many passages.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default=None)
@click.option(
    "--since", callback=start_value, help="Only articles published on or after YYYY-MM-DD."
)
@click.option(
    "--until", callback=end_value, help="Only articles published on or before YYYY-MM-DD."
)
@click.option("--outlet", help="Only articles from this outlet.")
@click.option("--country", callback=country_value, help=COUNTRY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def search(
    query: str,
    k: int | None,
    mode: str | None,
    since: datetime | None,
    until: datetime | None,
    outlet: str | None,
    country: str | None,
    as_json: bool,
    config_path: Path | None,
    data_dir: Path | None,
) -> None:
    """Show the passages that best match QUERY."""
    check_window(since, until)
    app = app_context(config_path, data_dir)
    # A keyword search embeds nothing; the others load the model while the store opens.
    keyword_only = (mode or app.config.search.mode) == "keyword"
    embedder = app.embedder() if keyword_only else app.embedder_loading()
    if library_is_empty(app):
        app.finish_loading()
        if as_json:
            echo_json([])
        return
    with app.knowledge_base(embedder=embedder) as kb:
        hits = kb.search(
            query,
            k=k,
            mode=mode,  # type: ignore[arg-type]
            since=since,
            until=until,
            outlet=outlet,
            country=country,
        )
    if as_json:
        echo_json([hit_row(h) for h in hits])
        return
    if not hits:
        echo("No passages found.")
        return
    for hit in hits:
        a = hit.article
        echo(
            f"{hit.rank}. {a.title}\n   {credit(a.outlet, a.country) or 'unknown outlet'}, "
            f"{format_date(a.published)} · article {a.id} · score {hit.score:.4f}"
        )
        snippet = textwrap.shorten(hit.passage.text, 400, placeholder=" …")
        echo(textwrap.indent(textwrap.fill(snippet, 88), "   ") + "\n")


@click.command()
@click.argument("question", callback=text_value)
@click.option("--since", callback=day_value, help="Only sources published on or after YYYY-MM-DD.")
@click.option("--until", callback=day_value, help="Only sources published on or before YYYY-MM-DD.")
@click.option(
    "--as-of",
    "as_of",
    callback=day_value,
    help="Read 'this week', 'latest'... as of YYYY-MM-DD.",
)
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid")
@click.option("--outlet", help="Only sources from this outlet.")
@click.option("--country", callback=country_value, help=COUNTRY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@llm_option
@common_options
def ask(
    question: str,
    since: date | None,
    until: date | None,
    as_of: date | None,
    mode: str,
    outlet: str | None,
    country: str | None,
    as_json: bool,
    use_llm: bool | None,
    config_path: Path | None,
    data_dir: Path | None,
) -> None:
    """Answer QUESTION from the articles, citing a source for every sentence."""
    check_window(since, until)
    app = app_context(config_path, data_dir)
    app.embedder_loading()  # the model loads while the store opens and answering imports
    if library_is_empty(app):
        app.finish_loading()
        if as_json:
            echo_json(empty_library_answer(question, "answer"))
        return
    with app.service(llm=use_llm) as service:
        # A written answer is printed as it is written (each sentence once checked);
        # JSON is one object, printed at the end.
        printer = StreamedPrinter() if service.writer is not None and not as_json else None
        answer = service.ask(
            question,
            since=since,
            until=until,
            as_of=as_of,
            mode=mode,  # type: ignore[arg-type]
            outlet=outlet,
            country=country,
            on_text=printer.on_text if printer is not None else None,
        )
    print_answer(answer, as_json=as_json, printer=printer)


@click.command()
@click.option("--article", "article_id", type=int, help="Summarise this article (its id).")
@click.option(
    "--topic", callback=text_value, help="Summarise what the articles say about this topic."
)
@click.option(
    "--since", callback=day_value, help="Topic: only sources published on or after YYYY-MM-DD."
)
@click.option(
    "--until",
    callback=day_value,
    help="Topic: only sources published on or before YYYY-MM-DD.",
)
@click.option(
    "--as-of", "as_of", callback=day_value, help="Read dates in the topic as of YYYY-MM-DD."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@llm_option
@common_options
def summarize(
    article_id: int | None,
    topic: str | None,
    since: date | None,
    until: date | None,
    as_of: date | None,
    as_json: bool,
    use_llm: bool | None,
    config_path: Path | None,
    data_dir: Path | None,
) -> None:
    """Summarise one article (--article ID) or a topic across articles (--topic TEXT)."""
    if (article_id is None) == (topic is None):
        raise click.UsageError("give exactly one of --article ID or --topic TEXT")
    check_window(since, until)
    app = app_context(config_path, data_dir)
    if library_is_empty(app):
        if as_json:
            what = f"Summary of article {article_id}" if topic is None else topic
            kind: AnswerKind = "topic_summary" if topic is not None else "article_summary"
            echo_json(empty_library_answer(what, kind))
        return
    if article_id is not None:
        app.check_article(article_id)
    printer = None
    with app.service(llm=use_llm) as service:
        if article_id is not None:
            # An article's written summary is printed as it is written, as `ask` is.
            if service.writer is not None and not as_json:
                printer = StreamedPrinter()
            answer = service.summarize_article(
                article_id, on_text=printer.on_text if printer is not None else None
            )
        else:
            answer = service.summarize_topic(topic or "", since=since, until=until, as_of=as_of)
    print_answer(answer, as_json=as_json, printer=printer)


@click.command()
@click.option(
    "--as-of",
    "as_of",
    callback=day_value,
    help="Read 'this week', 'latest'... as of YYYY-MM-DD.",
)
@llm_option
@common_options
def chat(
    as_of: date | None, use_llm: bool | None, config_path: Path | None, data_dir: Path | None
) -> None:
    """Ask questions in a row; follow-ups are read in the context of earlier ones."""
    from bot.answers.chat import Conversation

    app = app_context(config_path, data_dir)
    if library_is_empty(app):
        return
    with app.service(llm=use_llm) as service:
        conversation = Conversation(service, as_of=as_of)
        echo(
            "Ask about the news. Follow-ups understand earlier questions. "
            "/new starts over; /quit or Ctrl-D leaves."
        )
        while True:
            try:
                question = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
            except (EOFError, click.exceptions.Abort):
                echo()
                return
            question = question.strip()
            if question in {"/quit", "/exit", "quit", "exit"}:
                return
            if question == "/new":
                conversation.reset()
                echo("(new conversation)")
                continue
            if not question:
                continue
            printer = StreamedPrinter() if service.writer is not None else None
            if printer is not None:
                echo()
            try:
                answer = conversation.ask(
                    question, on_text=printer.on_text if printer is not None else None
                )
            except GeobotError as exc:
                echo(f"Error: {exc}", err=True)
                continue
            if printer is not None:
                printer.finish(answer)
                echo()
            else:
                echo("\n" + render_answer(answer) + "\n")
