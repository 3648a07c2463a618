"""The library commands, for members with Manage Server: /ingest, /remove, /stats.

Discord hides them from other members by default (`default_permissions`), and each
command checks the permission again when it runs, since a server can override the hint.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from bot.discord import messages
from bot.discord.autocomplete import article_choices
from bot.discord.checks import require_manage_server
from bot.discord.client_api import ClientAPI, client_of
from bot.discord.errors import UserError
from bot.discord.text import NO_PINGS, one_line
from index.web.polling import ingest_urls, is_url

__all__ = ["COMMANDS", "ingest", "remove", "stats"]


@app_commands.command()
@app_commands.describe(
    file="A text, Markdown, HTML, JSON or JSON Lines file of articles (or give a url)",
    url="The http(s) address of an article page to fetch (or attach a file)",
)
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def ingest(
    interaction: discord.Interaction[Any],
    file: discord.Attachment | None = None,
    url: app_commands.Range[str, 1, 2000] | None = None,
) -> None:
    """Add articles from an attached file or an article page's URL (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    if (file is None) == (url is None):
        raise UserError("Give either a `file` or a `url` (exactly one of them).")
    if url is not None:
        await ingest_url(interaction, client, url.strip())
        return
    assert file is not None
    limit = client.config.ingest.max_file_bytes
    if file.size > limit:
        raise UserError(f"That file is {file.size:,} bytes; the limit is {limit:,}.")
    await interaction.response.defer(thinking=True, ephemeral=True)
    data = await file.read()
    name = Path(file.filename).name or "upload.txt"

    def ingest_bytes() -> Any:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            return client.backend.kb.ingest([path])

    report = await client.offload(ingest_bytes)
    await client.choices.refresh()
    await interaction.followup.send(
        messages.render_ingest_report(name, report), ephemeral=True, allowed_mentions=NO_PINGS
    )


async def ingest_url(interaction: discord.Interaction[Any], client: ClientAPI, url: str) -> None:
    """/ingest url: fetch the page, extract its article, store it; failures are reported."""
    if not is_url(url):
        raise UserError("`url` must be an http:// or https:// address.")
    await interaction.response.defer(thinking=True, ephemeral=True)
    report = await ingest_urls(client.backend.kb, client.fetcher, [url], offload=client.offload)
    await client.choices.refresh()
    await interaction.followup.send(
        messages.render_ingest_report(url, report),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
        suppress_embeds=True,
    )


@app_commands.command()
@app_commands.describe(article="The article to delete (start typing its title)")
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def remove(interaction: discord.Interaction[Any], article: int) -> None:
    """Delete an article and its passages (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)
    removed = await client.offload(client.backend.kb.remove, article)
    await client.choices.refresh()
    await interaction.followup.send(
        f"Removed article {removed.id}: {one_line(removed.title, 300)}",
        ephemeral=True,
        allowed_mentions=NO_PINGS,
    )


remove.autocomplete("article")(article_choices)


@app_commands.command()
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def stats(interaction: discord.Interaction[Any]) -> None:
    """Show what the knowledge base holds (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(ephemeral=True)
    found = await client.offload(client.backend.kb.stats)
    await interaction.followup.send(
        embed=messages.render_stats(found), ephemeral=True, allowed_mentions=NO_PINGS
    )


COMMANDS: tuple[app_commands.Command[Any, Any, Any] | app_commands.Group, ...] = (
    ingest,
    remove,
    stats,
)
