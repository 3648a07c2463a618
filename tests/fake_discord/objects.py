"""Builders for Discord API objects (users, roles, members, channels, messages...).

Every builder returns the plain JSON dict Discord itself would send, with snowflakes as
strings. Two Discord habits matter to discord.py and are kept here on purpose:
nullable keys (``avatar``, ``nick``, ``topic``...) are present with ``None``, while
optional keys are left out entirely, never set to ``None``.
"""

from __future__ import annotations

import enum
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1420070400000


class Snowflakes:
    """Thread-safe generator of unique, increasing snowflake ids (as strings).

    Ids embed the current time like real ones, so discord.py's ``created_at`` and
    ``Interaction.expires_at`` come out sensible.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
            self._last = max(candidate, self._last + 1)
            return str(self._last)

    def next_on_shard(self, shard_id: int, shard_count: int) -> str:
        """A new id that Discord's sharding formula, ``(id >> 22) % shard_count``, puts on
        ``shard_id`` (its timestamp is at most ``shard_count`` ms ahead)."""
        with self._lock:
            candidate = max((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22, self._last + 1)
            stamp = candidate >> 22
            offset = (shard_id - stamp) % shard_count
            if offset:
                candidate = (stamp + offset) << 22
            self._last = candidate
            return str(candidate)


class Permission(enum.IntFlag):
    """The permission bits the fake reasons about (Discord's numbering)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38


# Every bit Discord defines today and then some; what owners and administrators get.
ALL_PERMISSIONS = (1 << 53) - 1

# Roughly what a new guild's @everyone role gets.
DEFAULT_EVERYONE_PERMISSIONS = (
    Permission.CREATE_INSTANT_INVITE
    | Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.CHANGE_NICKNAME
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.CREATE_PUBLIC_THREADS
    | Permission.CREATE_PRIVATE_THREADS
    | Permission.SEND_MESSAGES_IN_THREADS
)

# What the bot's managed role is given when it is invited with sensible scopes.
DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | Permission.MANAGE_THREADS

# Discord's permissions in a DM: no guild, so a fixed set.
DM_PERMISSIONS = (
    Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.USE_APPLICATION_COMMANDS
)


class Intent(enum.IntFlag):
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15


PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT

# Application flags that tell discord.py which privileged intents the portal enabled.
APP_FLAG_BY_INTENT = {
    Intent.GUILD_PRESENCES: 1 << 12,
    Intent.GUILD_MEMBERS: 1 << 14,
    Intent.MESSAGE_CONTENT: 1 << 18,
}


class ChannelType(enum.IntEnum):
    GUILD_TEXT = 0
    DM = 1
    GUILD_CATEGORY = 4
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12


THREAD_TYPES = {ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD}

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
MESSAGE_FLAG_COMPONENTS_V2 = 1 << 15


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def user_object(user_id: str, username: str, *, bot: bool = False) -> JSON:
    user: JSON = {
        "id": user_id,
        "username": username,
        # New-style usernames: discriminator "0" and a display name.
        "discriminator": "0",
        "global_name": username.capitalize(),
        "avatar": None,
        "public_flags": 0,
    }
    if bot:
        user["bot"] = True
    return user


def role_object(
    role_id: str,
    name: str,
    permissions: int,
    *,
    position: int = 0,
    bot_id: str | None = None,
) -> JSON:
    role: JSON = {
        "id": role_id,
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(int(permissions)),
        "managed": bot_id is not None,
        "mentionable": False,
        "flags": 0,
    }
    if bot_id is not None:
        role["tags"] = {"bot_id": bot_id}
    return role


def member_object(user: JSON, role_ids: list[str], *, nick: str | None = None) -> JSON:
    """A guild member with its ``user``, as GUILD_CREATE and interactions carry it."""
    return {
        "user": user,
        "nick": nick,
        "avatar": None,
        "banner": None,
        "roles": list(role_ids),
        "joined_at": iso_now(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        # discord.py indexes data['flags'] directly: it must be there.
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }


def text_channel_object(
    channel_id: str,
    guild_id: str,
    name: str,
    *,
    position: int = 0,
    topic: str | None = None,
    parent_id: str | None = None,
    permission_overwrites: list[JSON] | None = None,
) -> JSON:
    return {
        "id": channel_id,
        "type": int(ChannelType.GUILD_TEXT),
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": list(permission_overwrites or []),
        "parent_id": parent_id,
        "topic": topic,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def thread_object(
    thread_id: str,
    guild_id: str,
    parent_id: str,
    owner_id: str,
    name: str,
    *,
    private: bool = False,
    auto_archive_duration: int = 1440,
) -> JSON:
    now = iso_now()
    kind = ChannelType.PRIVATE_THREAD if private else ChannelType.PUBLIC_THREAD
    return {
        "id": thread_id,
        "type": int(kind),
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "last_message_id": None,
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "flags": 0,
        "total_message_sent": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": now,
            "locked": False,
            "create_timestamp": now,
        },
    }


def dm_channel_object(channel_id: str, recipient: JSON) -> JSON:
    return {
        "id": channel_id,
        "type": int(ChannelType.DM),
        "last_message_id": None,
        "flags": 0,
        "recipients": [recipient],
    }


def attachment_object(
    attachment_id: str,
    filename: str,
    size: int,
    url: str,
    *,
    content_type: str | None = None,
) -> JSON:
    attachment: JSON = {
        "id": attachment_id,
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
    }
    if content_type is not None:
        attachment["content_type"] = content_type
    return attachment


def message_object(
    message_id: str,
    channel_id: str,
    author: JSON,
    content: str,
    *,
    mentions: list[JSON] | None = None,
    mention_roles: list[str] | None = None,
    mention_everyone: bool = False,
    attachments: list[JSON] | None = None,
    embeds: list[JSON] | None = None,
    components: list[JSON] | None = None,
    flags: int = 0,
    message_type: int = 0,
    tts: bool = False,
) -> JSON:
    """A message as REST returns it. Gateway copies add ``guild_id`` and ``member``.

    discord.py only sets ``Message.mentions`` and friends when the keys exist, so
    every list key is always present, even when empty, as Discord does.
    """
    return {
        "id": message_id,
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": tts,
        "mention_everyone": mention_everyone,
        "mentions": list(mentions or []),
        "mention_roles": list(mention_roles or []),
        "attachments": list(attachments or []),
        "embeds": list(embeds or []),
        "components": list(components or []),
        "pinned": False,
        "type": message_type,
        "flags": flags,
    }


_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def user_mention_ids(content: str) -> list[str]:
    """User ids mentioned as ``<@id>`` / ``<@!id>`` in content, in order, unique."""
    return list(dict.fromkeys(_USER_MENTION.findall(content)))


def role_mention_ids(content: str) -> list[str]:
    return list(dict.fromkeys(_ROLE_MENTION.findall(content)))


@dataclass
class FakeGuild:
    """One guild's state. Members are keyed by user id and carry their ``user``."""

    id: str
    name: str
    owner_id: str
    roles: dict[str, JSON] = field(default_factory=dict)
    channels: dict[str, JSON] = field(default_factory=dict)
    threads: dict[str, JSON] = field(default_factory=dict)
    members: dict[str, JSON] = field(default_factory=dict)

    @property
    def everyone_role(self) -> JSON:
        # Discord's rule: the @everyone role's id is the guild's id.
        return self.roles[self.id]

    def base_permissions(self, user_id: str) -> int:
        """Guild-level permissions of a member: @everyone plus their roles."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members[user_id]
        perms = int(self.everyone_role["permissions"])
        for role_id in member["roles"]:
            perms |= int(self.roles[role_id]["permissions"])
        if perms & Permission.ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def channel_permissions(self, user_id: str, channel: JSON) -> int:
        """Discord's permission algorithm: base, then @everyone, role and member overwrites.

        Threads take the overwrites of their parent channel.
        """
        perms = self.base_permissions(user_id)
        if perms == ALL_PERMISSIONS:
            return perms
        if channel.get("type") in THREAD_TYPES:
            channel = self.channels.get(channel["parent_id"], channel)
        overwrites = {o["id"]: o for o in channel.get("permission_overwrites", [])}
        everyone = overwrites.get(self.id)
        if everyone is not None:
            perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
        allow = deny = 0
        for role_id in self.members[user_id]["roles"]:
            overwrite = overwrites.get(role_id)
            if overwrite is not None:
                allow |= int(overwrite["allow"])
                deny |= int(overwrite["deny"])
        perms = (perms & ~deny) | allow
        member_overwrite = overwrites.get(user_id)
        if member_overwrite is not None:
            perms = (perms & ~int(member_overwrite["deny"])) | int(member_overwrite["allow"])
        return perms

    def gateway_object(self, *, bot_id: str, all_members: bool) -> JSON:
        """The GUILD_CREATE payload.

        Without the GUILD_MEMBERS intent Discord only sends the bot's own member, while
        ``member_count`` stays the real count; with it (and a small guild) it sends all
        of them, which makes discord.py consider the guild chunked.
        """
        members = [m for uid, m in self.members.items() if all_members or uid == bot_id]
        bot_member = self.members.get(bot_id)
        joined_at = bot_member["joined_at"] if bot_member else iso_now()
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": self.owner_id,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": list(self.roles.values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": members,
            # GUILD_CREATE channels carry no guild_id; threads do.
            "channels": [
                {k: v for k, v in c.items() if k != "guild_id"} for c in self.channels.values()
            ],
            "threads": list(self.threads.values()),
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def rest_object(self) -> JSON:
        """GET /guilds/{id}: the guild without the gateway-only lists."""
        data = self.gateway_object(bot_id="", all_members=False)
        for key in (
            "joined_at",
            "large",
            "unavailable",
            "member_count",
            "voice_states",
            "members",
            "channels",
            "threads",
            "presences",
            "stage_instances",
            "guild_scheduled_events",
            "soundboard_sounds",
        ):
            del data[key]
        return data
