"""`geobot feeds ...`: follow news feeds (RSS, Atom): add, list, remove, poll, run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.context import app_context
from bot.cli.errors import GeobotGroup
from bot.cli.options import common_options, country_value, echo_json
from bot.cli.rendering import credit, echo, format_moment

if TYPE_CHECKING:
    from index.web.polling import PollReport

__all__ = ["feeds_add", "feeds_group", "feeds_list", "feeds_poll", "feeds_remove", "feeds_run"]


@click.group(name="feeds", cls=GeobotGroup)
def feeds_group() -> None:
    """Follow news feeds (RSS, Atom): add, list, remove, poll, run."""


@feeds_group.command(name="add")
@click.argument("url")
@click.option("--outlet", help="The outlet's name, given to every article of the feed.")
@click.option(
    "--country",
    callback=country_value,
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
    from bot.feed_state import open_feed_store
    from index.web.address_policy import AddressPolicy

    app = app_context(config_path, data_dir)
    policy = AddressPolicy.allowing(app.config.fetch.allowed_hosts)
    with app.knowledge_base() as kb, open_feed_store(app.config, kb) as feeds:
        feed, new = feeds.add(url, outlet=outlet, country=country, policy=policy)
    what = "added" if new else "updated"
    echo(
        f"{what} feed {feed.url}"
        + (f" ({credit(feed.outlet, feed.country)})" if feed.outlet else "")
    )


@feeds_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def feeds_list(as_json: bool, config_path: Path | None, data_dir: Path | None) -> None:
    """Show the feeds followed and how their polling stands."""
    from bot.feed_state import open_feed_store

    app = app_context(config_path, data_dir)
    with app.knowledge_base() as kb, open_feed_store(app.config, kb) as store:
        feeds = store.all()
    if as_json:
        echo_json(feeds)
        return
    if not feeds:
        echo("No feeds yet: add one with `geobot feeds add URL`.")
        return
    for feed in feeds:
        who = credit(feed.outlet, feed.country) or feed.title or "outlet unknown"
        polled = format_moment(feed.last_polled_at) if feed.last_polled_at else "never polled"
        echo(
            f"{feed.url}\n   {who} · {feed.entries_ingested} articles · last poll {polled}"
            f" · next {format_moment(feed.next_poll_at) if feed.next_poll_at else 'now'}"
        )
        if feed.last_error:
            echo(f"   last error ({feed.failures} in a row): {feed.last_error}")
        if feed.entries_failed:
            echo(f"   {feed.entries_failed} entries failed")


@feeds_group.command(name="remove")
@click.argument("url")
@common_options
def feeds_remove(url: str, config_path: Path | None, data_dir: Path | None) -> None:
    """Stop following the feed at URL (the articles it brought stay)."""
    from bot.feed_state import open_feed_store

    app = app_context(config_path, data_dir)
    with app.knowledge_base() as kb, open_feed_store(app.config, kb) as feeds:
        feed = feeds.remove(url)
    echo(f"removed feed {feed.url} ({feed.entries_ingested} articles from it stay)")


@feeds_group.command(name="poll")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@common_options
def feeds_poll(as_json: bool, config_path: Path | None, data_dir: Path | None) -> None:
    """Poll every feed once: fetch new entries' pages and ingest them."""
    # Imported here: the fetcher and the HTML extractors take a while to import, and no
    # other command needs them.
    import asyncio

    from bot.feed_reports import describe_feed_report
    from bot.feed_state import open_feed_store
    from index.web.fetch import Fetcher
    from index.web.polling import FeedPoller

    app = app_context(config_path, data_dir)
    with app.knowledge_base() as kb, open_feed_store(app.config, kb) as feeds:
        if not feeds.all():
            echo("No feeds yet: add one with `geobot feeds add URL`.")
            return

        async def run() -> PollReport:
            async with Fetcher(app.config.fetch) as fetcher:
                poller = FeedPoller(
                    kb,
                    feeds,
                    fetcher,
                    app.config,
                    on_feed_done=None if as_json else lambda r: echo(describe_feed_report(r)),
                )
                return await poller.poll()

        report = asyncio.run(run())
    if as_json:
        echo_json(report)
    else:
        echo(
            f"polled {len(report.feeds)} feeds in {report.seconds:.1f} s: "
            f"{report.new} new articles, {report.failed} failed"
        )
    if report.feeds and all(f.error for f in report.feeds):
        sys.exit(1)


@feeds_group.command(name="run")
@common_options
def feeds_run(config_path: Path | None, data_dir: Path | None) -> None:
    """Poll the feeds on their schedule until stopped (Ctrl-C, SIGTERM): the feed poller
    without the Discord bot, one line per poll."""
    import asyncio
    import contextlib
    import signal

    from bot.cli.feed_poller import run_feed_poller
    from bot.feed_state import open_feed_store

    app = app_context(config_path, data_dir)
    every = app.config.feeds.poll_interval_minutes
    with app.knowledge_base() as kb, open_feed_store(app.config, kb) as feeds:
        count = len(feeds.all())

        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                # Not every platform (or a non-main thread) can install them.
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(signum, stop.set)
            echo(
                f"polling {count} feed{'' if count == 1 else 's'} every {every:g} min "
                "(feeds added later are picked up within a minute); Ctrl-C stops"
            )
            await run_feed_poller(kb, feeds, app.config, stop=stop, say=echo)

        asyncio.run(run())
    echo("stopped")
