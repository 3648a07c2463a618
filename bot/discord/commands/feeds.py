"""The /feeds command group, for members with Manage Server: add, list, remove, poll.

The client polls the feeds in the background (`GeobotClient.poll_feeds`); `/feeds add`
wakes that poller at once, `/feeds poll` runs a pass now and reports on each feed.
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands

from bot.discord import messages, render
from bot.discord.checks import require_manage_server
from bot.discord.client_api import client_of
from bot.discord.errors import UserError
from bot.discord.options import parse_country, parse_outlet
from bot.discord.text import NO_PINGS, neutralize_mentions
from index import NotFoundError
from index.web.address_policy import AddressPolicy
from index.web.feed_store import FeedStore, check_feed_url

__all__ = ["COMMANDS", "feed_url_for", "feeds"]


feeds = app_commands.Group(
    name="feeds",
    description="Follow news feeds (RSS, Atom): add, list, remove, poll (Manage Server only)",
    default_permissions=discord.Permissions(manage_guild=True),
    guild_only=True,
)


@feeds.command(name="add")
@app_commands.describe(
    url="The feed's http(s) address (RSS or Atom)",
    outlet="The outlet's name, given to every article of the feed, e.g. Reuters",
    country="The outlet's country: a two-letter code, e.g. GB",
)
async def feeds_add(
    interaction: discord.Interaction[Any],
    url: app_commands.Range[str, 1, 2000],
    outlet: app_commands.Range[str, 1, 100] | None = None,
    country: app_commands.Range[str, 2, 2] | None = None,
) -> None:
    """Follow a news feed: I poll it in the background (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    address = check_feed_url(url, policy=AddressPolicy.allowing(client.config.fetch.allowed_hosts))
    code = parse_country(country)
    await interaction.response.defer(thinking=True, ephemeral=True)
    feed, new = await client.offload(
        client.feeds.add, address, outlet=parse_outlet(outlet), country=code
    )
    client.wake_poller()
    await client.choices.refresh()
    await interaction.followup.send(
        messages.render_feed_added(feed, new, polling=client.poll_task is not None),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
        suppress_embeds=True,
    )


@feeds.command(name="list")
async def feeds_list(interaction: discord.Interaction[Any]) -> None:
    """Show the feeds I follow and how their polling stands (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(ephemeral=True)
    found = await client.offload(client.feeds.all)
    await interaction.followup.send(
        embed=render.render_feeds(found), ephemeral=True, allowed_mentions=NO_PINGS
    )


@feeds.command(name="remove")
@app_commands.describe(url="The feed to stop following (start typing its address or outlet)")
async def feeds_remove(
    interaction: discord.Interaction[Any], url: app_commands.Range[str, 1, 2000]
) -> None:
    """Stop following a feed; the articles it brought stay (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)
    address = await client.offload(feed_url_for, client.feeds, url)
    try:
        removed = await client.offload(client.feeds.remove, address)
    except NotFoundError:
        shown = neutralize_mentions(" ".join(address.split()))[:300]
        raise UserError(f"I don't follow the feed <{shown}>; see `/feeds list`.") from None
    await client.choices.refresh()
    await interaction.followup.send(
        messages.render_feed_removed(removed),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
        suppress_embeds=True,
    )


FEED_CHOICE = re.compile(r"feed:(\d+)")


def feed_url_for(store: FeedStore, value: str) -> str:
    """The URL a /feeds remove value names: the URL itself, or "feed:<id>" (the choice
    value of a feed whose URL is longer than a choice value may be)."""
    match = FEED_CHOICE.fullmatch(value.strip())
    if match is not None:
        for feed in store.all():
            if feed.id == int(match.group(1)):
                return feed.url
    return value


async def feed_choices(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    # From memory: an autocomplete cannot be deferred, and must not wait for a thread.
    found = client_of(interaction).choices.feeds()
    typed = current.strip().casefold()
    return [
        app_commands.Choice(
            name=messages.feed_choice_name(feed),
            value=feed.url if len(feed.url) <= 100 else f"feed:{feed.id}",
        )
        for feed in found
        if typed in messages.feed_choice_name(feed).casefold() or typed in feed.url.casefold()
    ][:25]


feeds_remove.autocomplete("url")(feed_choices)


@feeds.command(name="poll")
async def feeds_poll(interaction: discord.Interaction[Any]) -> None:
    """Poll every feed now and report on each (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)
    found = await client.offload(client.feeds.all)
    if not found:
        raise UserError("No feeds yet: add one with `/feeds add`.")
    report = await client.poll_feeds(found)
    await interaction.followup.send(
        messages.render_poll_report(report),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
        suppress_embeds=True,
    )


COMMANDS: tuple[app_commands.Command[Any, Any, Any] | app_commands.Group, ...] = (feeds,)
