"""A fake Discord for testing the real discord.py client, with Discord's rules enforced.

Tour::

    from fake_discord import FakeDiscord, run_client
    from fake_discord.fixtures import fake_discord  # the pytest fixture

    def test_ping(fake_discord: FakeDiscord) -> None:
        async def main() -> None:
            bot = make_bot()  # any discord.Client; guild_ready_timeout=0.1 keeps it quick
            async with run_client(bot, fake_discord):
                handle = await fake_discord.send_command("ping")
                callback = await handle.next("callback")  # type 5: deferred
                followup = await handle.next("followup")
                assert followup.embeds[0]["title"] == "Pong"

        asyncio.run(main())

World (built by default): ``fake.guild`` (a :class:`FakeGuild`), ``fake.channel`` and
``fake.other_channel`` (text channels), ``fake.thread``, ``fake.owner``, ``fake.admin``
(a role with MANAGE_GUILD), ``fake.member`` (no roles), ``fake.dm`` (the member's DM),
``fake.bot_user``, ``fake.application_id``. ``add_guild``/``add_role``/
``add_text_channel``/``add_thread`` extend it before the client connects;
``add_user``/``add_member``/``add_attachment``/``dm_channel`` work any time.

Shards: ``gateway_shards`` is the count ``GET /gateway/bot`` recommends; a client may
IDENTIFY several shards, and each gets only its guilds (``shard_of(guild_id, count)``,
Discord's formula) and their events; DMs go to shard 0. ``add_guild(shard=(i, n))``
places a guild on a shard; ``shards`` and ``shard_guilds`` say what each shard got.

Events in: ``send_command``, ``send_autocomplete``, ``send_component``,
``send_modal_submit`` (each returns an :class:`InteractionHandle`), ``send_message``
(returns a :class:`MessageHandle`), and ``dispatch`` for anything else.

What came out: ``fake.actions`` (every :class:`Action`), ``fake.requests`` (every REST
call), handles' ``next(kind)`` cursors, ``fake.channel_history(channel)``.

Rules: every breach is a :class:`Breach` in ``fake.breaches``; ``expect_breach(rule)``
waits for and consumes one, ``take_breaches``/``clear_breaches`` drop them, and the
fixture fails the test if any remain. ``fake.fail_next(...)`` injects REST failures.
"""

from . import rules
from .client import run_client
from .objects import ChannelType, FakeGuild, Intent, Permission
from .records import (
    Action,
    ActionStream,
    Breach,
    InteractionHandle,
    MessageHandle,
    NotDelivered,
    Request,
    UploadedFile,
)
from .server import FakeDiscord, NotConnected

__all__ = [
    "Action",
    "ActionStream",
    "Breach",
    "ChannelType",
    "FakeDiscord",
    "FakeGuild",
    "Intent",
    "InteractionHandle",
    "MessageHandle",
    "NotConnected",
    "NotDelivered",
    "Permission",
    "Request",
    "UploadedFile",
    "rules",
    "run_client",
]
