"""Each server's settings in effect: its `/settings` over the config file's defaults.

`ServerPolicies` answers, from memory, what the answer paths ask on every interaction:
may I answer in this channel, how long is this member's pause, thread or inline, which
answer service (written answers on or off, sources preferred or left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord

from bot.answers.service import AnswerService
from bot.answers.source_policy import SourcePolicy
from bot.config import BotConfig
from bot.discord.backend import Backend
from bot.discord.cooldowns import Cooldowns
from bot.server_state import FollowUps, ServerSettings, ServerStore

__all__ = ["GuildPolicy", "ServerPolicies", "resolve_settings"]


@dataclass(frozen=True)
class GuildPolicy:
    """The settings a server's questions are answered under."""

    answer_channel_ids: tuple[int, ...]  # empty: every channel
    cooldown_seconds: float
    follow_ups: FollowUps
    written_answers: bool  # asked for; a model must also be configured
    sources: SourcePolicy
    overrides: ServerSettings  # what the server set itself (None: the default)


def resolve_settings(overrides: ServerSettings, config: BotConfig) -> GuildPolicy:
    """A server's overrides over the config file's `[discord]` and `[llm]` values."""
    defaults = config.discord

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    return GuildPolicy(
        answer_channel_ids=tuple(
            pick(overrides.answer_channel_ids, tuple(defaults.allowed_channel_ids))
        ),
        cooldown_seconds=float(pick(overrides.cooldown_seconds, defaults.cooldown_seconds)),
        follow_ups=pick(overrides.follow_ups, defaults.follow_ups),
        written_answers=bool(pick(overrides.written_answers, config.llm.enabled)),
        sources=SourcePolicy(
            prefer_outlets=overrides.prefer_outlets,
            exclude_outlets=overrides.exclude_outlets,
            prefer_countries=overrides.prefer_countries,
            exclude_countries=overrides.exclude_countries,
        ),
        overrides=overrides,
    )


class ServerPolicies:
    """The settings in effect per server, and each server's cooldowns (in memory)."""

    def __init__(self, store: ServerStore, config: BotConfig, default_cooldowns: Cooldowns) -> None:
        self.store = store
        self._config = config
        self._default_cooldowns = default_cooldowns  # DMs, and servers that keep the default
        self._cooldowns: dict[tuple[int, float], Cooldowns] = {}

    def policy(self, guild_id: int | None) -> GuildPolicy:
        overrides = self.store.settings(guild_id) if guild_id is not None else ServerSettings()
        return resolve_settings(overrides, self._config)

    def cooldowns(self, guild_id: int | None) -> Cooldowns:
        """The pauses between a server's questions (a changed length starts afresh)."""
        seconds = self.policy(guild_id).cooldown_seconds
        if guild_id is None or seconds == self._config.discord.cooldown_seconds:
            return self._default_cooldowns
        key = (guild_id, seconds)
        found = self._cooldowns.get(key)
        if found is None:
            for stale in [k for k in self._cooldowns if k[0] == guild_id]:
                del self._cooldowns[stale]
            found = self._cooldowns[key] = Cooldowns(seconds)
        return found

    def channel_allowed(self, channel: Any) -> bool:
        """Whether the bot answers in `channel` (or a thread of it): the server's answer
        channels, else `[discord] allowed_channel_ids`; DMs always."""
        if isinstance(channel, discord.DMChannel):
            return True
        guild = getattr(channel, "guild", None)
        guild_id = guild.id if guild is not None else getattr(channel, "guild_id", None)
        allowed = self.policy(guild_id).answer_channel_ids
        if not allowed:
            return True
        ids = {getattr(channel, "id", None), getattr(channel, "parent_id", None)}
        return bool(ids & set(allowed))

    def service(self, backend: Backend, guild_id: int | None) -> AnswerService:
        """The answer service under the server's settings."""
        policy = self.policy(guild_id)
        return backend.service_for(written=policy.written_answers, sources=policy.sources)
