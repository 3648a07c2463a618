"""The answering commands, open to everyone: /ask, /summary, /search, /sources, /help.

Each command's docstring is its description on Discord and every parameter is described;
answering and searching run in the client's thread pool (`offload`), after the
interaction is deferred. Every option is checked before the cooldown is, so a rejected
input does not use up the user's cooldown.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import discord
from discord import app_commands

from bot.answers.models import Answer
from bot.answers.service import AnswerService
from bot.discord import messages, render
from bot.discord.autocomplete import article_choices, outlet_choices
from bot.discord.buttons import SourcesPageButton, disable_sources_pager, sources_view
from bot.discord.checks import check_cooldown
from bot.discord.client_api import ClientAPI, client_of
from bot.discord.errors import UserError
from bot.discord.options import COUNTRY_HELP, OUTLET_HELP, parse_country, parse_day, parse_outlet
from bot.discord.streaming import StreamedAnswer
from bot.discord.text import NO_PINGS

__all__ = ["COMMANDS", "ask", "help_command", "search", "sources", "summary"]


async def follow_up_with(
    interaction: discord.Interaction[Any], answer: Answer, stream: StreamedAnswer | None = None
) -> None:
    """Send `answer` as the deferred interaction's follow-up (or the final edit of the
    follow-up that showed it as it was written), outside any conversation."""
    await client_of(interaction).send_answer(
        answer,
        functools.partial(interaction.followup.send, wait=True),
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        conversation=None,
        stream=stream,
    )


async def _streamed(
    client: ClientAPI,
    service: AnswerService,
    interaction: discord.Interaction[Any],
    stack: contextlib.AsyncExitStack,
) -> StreamedAnswer | None:
    """The follow-up that shows a written answer as it is written (each sentence once it
    is checked), or None when the answer is not written by a model."""
    if service.writer is None:
        return None
    send = functools.partial(interaction.followup.send, wait=True)
    return await stack.enter_async_context(client.stream_answer(send))


@app_commands.command()
@app_commands.describe(
    question="What you want to know, e.g. 'What did NATO decide this week?'",
    since="Only sources published on or after this date (YYYY-MM-DD)",
    until="Only sources published on or before this date (YYYY-MM-DD)",
    outlet=OUTLET_HELP,
    country=COUNTRY_HELP,
)
async def ask(
    interaction: discord.Interaction[Any],
    question: app_commands.Range[str, 1, 1000],
    since: str | None = None,
    until: str | None = None,
    outlet: app_commands.Range[str, 1, 100] | None = None,
    country: app_commands.Range[str, 2, 2] | None = None,
) -> None:
    """Answer a question from the news articles, citing a source for every sentence."""
    client = client_of(interaction)
    first, last = parse_day(since, "since"), parse_day(until, "until")
    code = parse_country(country)
    check_cooldown(interaction)
    await interaction.response.defer(thinking=True)
    service = client.servers.service(client.backend, interaction.guild_id)
    async with contextlib.AsyncExitStack() as stack:
        stream = await _streamed(client, service, interaction, stack)
        answer = await client.offload(
            service.ask,
            question,
            since=first,
            until=last,
            outlet=parse_outlet(outlet),
            country=code,
            on_text=stream.on_text if stream is not None else None,
        )
        await follow_up_with(interaction, answer, stream)


ask.autocomplete("outlet")(outlet_choices)


@app_commands.command()
@app_commands.describe(
    article="An article to summarise (start typing its title)",
    topic="A topic to summarise across articles, e.g. 'Black Sea grain deal'",
    since="Topic only: sources published on or after this date (YYYY-MM-DD)",
    until="Topic only: sources published on or before this date (YYYY-MM-DD)",
)
async def summary(
    interaction: discord.Interaction[Any],
    article: int | None = None,
    topic: app_commands.Range[str, 1, 300] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> None:
    """Summarise one article, or what the articles say about a topic, with citations."""
    client = client_of(interaction)
    if (article is None) == (topic is None):
        raise UserError("Give either `article` or `topic`.")
    first, last = parse_day(since, "since"), parse_day(until, "until")
    check_cooldown(interaction)
    await interaction.response.defer(thinking=True)
    service = client.servers.service(client.backend, interaction.guild_id)
    if article is None:
        answer = await client.offload(service.summarize_topic, topic or "", since=first, until=last)
        await follow_up_with(interaction, answer)
        return
    async with contextlib.AsyncExitStack() as stack:
        stream = await _streamed(client, service, interaction, stack)
        answer = await client.offload(
            service.summarize_article,
            article,
            on_text=stream.on_text if stream is not None else None,
        )
        await follow_up_with(interaction, answer, stream)


summary.autocomplete("article")(article_choices)


@app_commands.command()
@app_commands.describe(
    query="Words or a question to look for in the articles",
    outlet=OUTLET_HELP,
    country=COUNTRY_HELP,
)
async def search(
    interaction: discord.Interaction[Any],
    query: app_commands.Range[str, 1, 500],
    outlet: app_commands.Range[str, 1, 100] | None = None,
    country: app_commands.Range[str, 2, 2] | None = None,
) -> None:
    """Show the passages that best match a query, with their sources."""
    client = client_of(interaction)
    code = parse_country(country)
    check_cooldown(interaction)
    await interaction.response.defer(thinking=True)
    sources = client.servers.policy(interaction.guild_id).sources
    # Left-out sources are dropped from the hits, so ask for more of them.
    found = await client.offload(
        client.backend.kb.search,
        query,
        k=20 if sources.active else 5,
        outlet=parse_outlet(outlet),
        country=code,
    )
    hits = [hit for hit in found if not sources.excludes(hit.article)][:5]
    await interaction.followup.send(
        embeds=render.render_hits(query, hits), allowed_mentions=NO_PINGS
    )


search.autocomplete("outlet")(outlet_choices)


@app_commands.command()
@app_commands.describe(page="Which page of the list to show (10 articles a page)")
async def sources(
    interaction: discord.Interaction[Any], page: app_commands.Range[int, 1] = 1
) -> None:
    """List the articles I know, newest first."""
    client = client_of(interaction)
    await interaction.response.defer()
    embed, pages = await client.sources_page(page)
    view = sources_view(interaction.user.id, min(page, pages), pages)
    message = await interaction.followup.send(
        embed=embed, view=view, allowed_mentions=NO_PINGS, wait=True
    )
    client.run_later(
        SourcesPageButton.lifetime_seconds, functools.partial(disable_sources_pager, message)
    )


@app_commands.command(name="help")
async def help_command(interaction: discord.Interaction[Any]) -> None:
    """What I can do, and where my knowledge ends."""
    client = client_of(interaction)
    await interaction.response.defer(ephemeral=True)
    stats = await client.offload(client.backend.kb.stats)
    await interaction.followup.send(
        embed=messages.render_help(stats), ephemeral=True, allowed_mentions=NO_PINGS
    )


COMMANDS: tuple[app_commands.Command[Any, Any, Any] | app_commands.Group, ...] = (
    ask,
    summary,
    search,
    sources,
    help_command,
)
