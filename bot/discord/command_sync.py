"""Syncing the slash commands with Discord, only when they changed.

Every sync is a bulk overwrite that Discord rate-limits (a global one also takes a while
to reach every server), so the bot does not sync on every start: it hashes the payload
it would send and syncs only when the hash differs from the last one synced to that
scope, kept in the bot's state. `geobot bot --sync` forces a sync (e.g. after the
commands were changed or deleted by hand in the developer portal).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands

from bot.state import BotState

__all__ = ["commands_digest", "sync_commands"]

log = logging.getLogger(__name__)


def commands_digest(tree: app_commands.CommandTree[Any], guild: discord.Object | None) -> str:
    """A hash of the command payload `tree.sync(guild=guild)` would send."""
    payload = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def sync_commands(
    client: discord.Client,
    tree: app_commands.CommandTree[Any],
    state: BotState,
    *,
    guild_id: int | None,
    force: bool = False,
) -> bool:
    """Sync `tree` to `guild_id` (or globally) if it changed since the last sync, or if
    `force`; True when it synced. The hash is stored only once Discord took the sync."""
    guild = discord.Object(id=guild_id) if guild_id else None
    if guild is not None:
        tree.copy_global_to(guild=guild)
    scope = f"guild:{guild_id}" if guild_id else "global"
    key = f"commands_synced:{client.application_id}:{scope}"
    digest = commands_digest(tree, guild)
    if not force and await asyncio.to_thread(state.get_value, key) == digest:
        log.info("commands unchanged since the last sync (%s); not syncing", scope)
        return False
    synced = await tree.sync(guild=guild)
    await asyncio.to_thread(state.set_value, key, digest)
    log.info("synced %d commands (%s)", len(synced), scope)
    return True
