"""`geobot`: the command line front end; its root group and `main`.

Every command takes ``--config PATH`` (or ``GEOBOT_CONFIG``) and ``--data-dir PATH`` (or
``GEOBOT_DATA_DIR``). Every error is one line on stderr: usage errors (an unknown command
or option, a missing argument, a bad value) exit with status 2, library errors with status
1; anything else is a bug and keeps its traceback. Arguments are checked before the
embedding model loads, which takes seconds.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bot.cli.answering import ask, chat, search, summarize
from bot.cli.context import AppContext
from bot.cli.discord_bot import feedback, run_bot
from bot.cli.errors import GeobotGroup
from bot.cli.evaluation import eval_group
from bot.cli.feeds import feeds_group
from bot.cli.library import ingest, reindex, remove, sources, stats
from bot.cli.maintenance import check, migrate
from bot.cli.options import common_options
from bot.cli.state import state_group

__all__ = ["HTML_EXTRACTOR_LOGGERS", "cli", "main"]

HTML_EXTRACTOR_LOGGERS = ("trafilatura", "htmldate", "justext", "courlan")


@click.group(
    name="geobot", cls=GeobotGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
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
    # The HTML extractors log about pages they give up on ("discarding data: None"),
    # which geobot reports itself, in its own words: their messages only with -vv.
    for extractor in HTML_EXTRACTOR_LOGGERS:
        logging.getLogger(extractor).setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)
    factory = ctx.obj.embedder_factory if isinstance(ctx.obj, AppContext) else None
    ctx.obj = AppContext(config_path, data_dir, embedder_factory=factory)


# The commands live in one module per group; none of them imports this one.
cli.add_command(ingest)
cli.add_command(sources)
cli.add_command(search)
cli.add_command(remove)
cli.add_command(stats)
cli.add_command(reindex)
cli.add_command(check)
cli.add_command(migrate)
cli.add_command(ask)
cli.add_command(summarize)
cli.add_command(chat)
cli.add_command(eval_group)
cli.add_command(run_bot)
cli.add_command(feedback)
cli.add_command(feeds_group)
cli.add_command(state_group)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="geobot")
