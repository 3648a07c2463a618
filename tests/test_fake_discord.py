"""The fake Discord works with the real discord.py client, and catches rule breaches.

A small bot is defined here (not geobot's): one deferred slash command, one with
autocomplete, a button view, an attachment command, and an ``on_message`` that answers
mentions and DMs. Plus a few deliberately misbehaving commands whose breaches the tests
expect. Tests are plain functions running ``asyncio.run``: pytest-asyncio is not a
dependency of this project.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable

import discord
import discord.gateway
import discord.http
import pytest
import yarl
from discord import app_commands
from fake_discord import FakeDiscord, Intent, NotDelivered, Permission, fixtures, rules, run_client

# Make the fixture visible to pytest here. An assignment, not an import of the name,
# because tests take the fixture as a parameter of the same name (ruff F811).
fake_discord = fixtures.fake_discord

TOPICS = [f"topic-{n:02d}" for n in range(40)] + ["energy", "elections"]
NONE = discord.AllowedMentions.none()


class Feedback(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[Feedback] = discord.ui.TextInput(
        label="Your feedback", custom_id="feedback:text"
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Got: {self.text.value}", allowed_mentions=NONE)


class TestBot(discord.Client):
    """A tiny bot exercising what geobot uses: app commands, views, replies."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        allowed_mentions: discord.AllowedMentions | None = NONE,
        intents: discord.Intents | None = None,
    ) -> None:
        super().__init__(
            intents=intents or discord.Intents.default(),
            allowed_mentions=allowed_mentions,
            # discord.py waits this long after the last GUILD_CREATE before on_ready.
            guild_ready_timeout=0.05,
        )
        self.fake = fake
        self.ready_fired = asyncio.Event()
        self.tree = app_commands.CommandTree(self)
        self.guild_object = discord.Object(id=int(fake.guild.id))
        self.clicks: list[str] = []
        self.seen: list[str] = []  # content of users' messages, as the bot saw it
        self._add_commands()

    async def on_ready(self) -> None:
        self.ready_fired.set()

    async def on_message(self, message: discord.Message) -> None:
        # Discord echoes the bot's own messages: ignoring them prevents reply loops.
        if message.author.bot:
            return
        self.seen.append(message.content)
        assert self.user is not None
        if message.guild is None or self.user in message.mentions:
            await message.reply(
                f"You asked: {message.clean_content}",
                allowed_mentions=NONE,
                mention_author=False,
            )

    def _add_commands(self) -> None:
        tree, guild = self.tree, self.guild_object

        @tree.command(name="ping", description="Check that the bot answers", guild=guild)
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            embed = discord.Embed(title="Pong", description="The bot is alive.")
            await interaction.followup.send(embed=embed)

        @tree.command(name="topic", description="Pick a news topic", guild=guild)
        @app_commands.describe(name="The topic to follow")
        async def topic(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message(f"Following {name}")

        @topic.autocomplete("name")
        async def topic_names(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            matches = [t for t in TOPICS if current.lower() in t]
            return [app_commands.Choice(name=t, value=t) for t in matches][:25]

        bot = self

        class Vote(discord.ui.View):
            @discord.ui.button(label="Useful", custom_id="vote:up")
            async def up(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:  # type: ignore[type-arg]
                bot.clicks.append("up")
                await interaction.response.edit_message(content="Thanks for voting!", view=None)

        @tree.command(name="vote", description="Ask whether an answer helped", guild=guild)
        async def vote(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Was this useful?", view=Vote())

        @tree.command(name="ingest", description="Add an article file", guild=guild)
        async def ingest(interaction: discord.Interaction, file: discord.Attachment) -> None:
            data = await file.read()
            await interaction.response.send_message(
                f"Ingested {file.filename}: {len(data)} bytes", ephemeral=True
            )

        news = app_commands.Group(name="news", description="News commands", guild_ids=[guild.id])

        @news.command(name="latest", description="The latest articles on a topic")
        async def latest(
            interaction: discord.Interaction,
            topic: str,
            count: int = 3,
            reader: discord.Member | None = None,
            where: discord.TextChannel | None = None,
        ) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            report = discord.File(io.BytesIO(b"article list"), "articles.txt")
            text = f"{count} on {topic} for {reader} in #{where}"
            await interaction.followup.send(text, file=report, ephemeral=True)
            await interaction.edit_original_response(content=f"{text} (done)")

        tree.add_command(news)

        @tree.command(name="feedback", description="Tell us what you think", guild=guild)
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(Feedback())

        @tree.command(name="discuss", description="Open a discussion thread", guild=guild)
        async def discuss(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Starting a thread")
            message = await interaction.original_response()
            thread = await message.create_thread(name="Discussion")
            async with thread.typing():
                await thread.send("Welcome to the thread")
            await message.add_reaction("\N{THUMBS UP SIGN}")
            await interaction.user.send("I opened a thread for you")

        # --- misbehaving commands, for the breach tests ---------------------------------

        @tree.command(name="long", description="Answer with too much text", guild=guild)
        async def long(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("x" * 2001)

        @tree.command(name="bigembed", description="Answer with an oversized embed", guild=guild)
        async def bigembed(interaction: discord.Interaction) -> None:
            embed = discord.Embed(title="t" * 300, description="d" * 4000)
            for n in range(3):
                embed.add_field(name=f"field {n}", value="v" * 1100)
            await interaction.response.send_message(embed=embed)

        @tree.command(name="shout", description="Post in the channel", guild=guild)
        async def shout(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(
                "Posting...", ephemeral=True, allowed_mentions=NONE
            )
            assert isinstance(interaction.channel, discord.TextChannel)
            # No allowed_mentions here, and (in the test) none on the client either.
            await interaction.channel.send(f"Hello <@{interaction.user.id}>")

        @tree.command(name="slow", description="Answer too late", guild=guild)
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.5)
            await interaction.response.send_message("Sorry, I was slow")

        @tree.command(name="twice", description="Answer two times", guild=guild)
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("First answer")
            # discord.py refuses a second response itself, so go around it, like a
            # second bot instance answering the same interaction would.
            route = discord.http.Route(
                "POST",
                "/interactions/{interaction_id}/{interaction_token}/callback",
                interaction_id=interaction.id,
                interaction_token=interaction.token,
            )
            payload = {"type": 4, "data": {"content": "Second", "allowed_mentions": {"parse": []}}}
            await interaction.client.http.request(route, json=payload)


def run(
    fake: FakeDiscord, body: Callable[[TestBot], Awaitable[None]], **bot_kwargs: object
) -> None:
    """Start a TestBot on the fake, sync its guild commands, run ``body``; all bounded."""

    async def main() -> None:
        bot = TestBot(fake, **bot_kwargs)  # type: ignore[arg-type]
        async with run_client(bot, fake):
            await bot.tree.sync(guild=bot.guild_object)
            await body(bot)

    asyncio.run(asyncio.wait_for(main(), timeout=20))


# --- plumbing ----------------------------------------------------------------------------


def _button(custom_id: str, label: str = "Go") -> dict[str, object]:
    return {"type": 2, "style": 1, "custom_id": custom_id, "label": label}


def _option(name: str, required: bool = False, **extra: object) -> dict[str, object]:
    return {"type": 3, "name": name, "description": "An option", "required": required, **extra}


@pytest.mark.parametrize(
    ("rule", "violations"),
    [
        ("message.empty", rules.check_message({"allowed_mentions": {}}, creating=True)),
        ("embeds.count", rules.check_embeds([{"title": "t"}] * 11)),
        ("embed.fields", rules.check_embeds([{"fields": [{"name": "n", "value": "v"}] * 26}])),
        ("embed.footer", rules.check_embeds([{"footer": {"text": "f" * 2049}}])),
        ("embed.author", rules.check_embeds([{"author": {"name": "a" * 257}}])),
        (
            "components.rows",
            rules.check_components([{"type": 1, "components": [_button("a")]}] * 6),
        ),
        (
            "components.row_buttons",
            rules.check_components(
                [{"type": 1, "components": [_button(str(n)) for n in range(6)]}]
            ),
        ),
        (
            "component.custom_id",
            rules.check_components([{"type": 1, "components": [_button("x" * 101)]}]),
        ),
        (
            "component.label",
            rules.check_components([{"type": 1, "components": [_button("a", "l" * 81)]}]),
        ),
        (
            "allowed_mentions.permissive",
            rules.check_allowed_mentions({"allowed_mentions": {"parse": ["everyone"]}}),
        ),
        (
            "allowed_mentions.permissive",
            rules.check_allowed_mentions({"allowed_mentions": {"roles": [1]}}),
        ),
        (
            "autocomplete.choices",
            rules.check_autocomplete({"choices": [{"name": "n", "value": "v"}] * 26}),
        ),
        (
            "autocomplete.choice",
            rules.check_autocomplete({"choices": [{"name": "", "value": "v"}]}),
        ),
        ("command.name", rules.check_command({"name": "has space", "description": "d"})),
        ("command.description", rules.check_command({"name": "ok", "description": "d" * 101})),
        (
            "command.options",
            rules.check_command(
                {"name": "ok", "description": "d", "options": [_option(f"o{n}") for n in range(26)]}
            ),
        ),
        (
            "command.option_order",
            rules.check_command(
                {"name": "ok", "description": "d", "options": [_option("a"), _option("b", True)]}
            ),
        ),
        (
            "command.choices",
            rules.check_command(
                {
                    "name": "ok",
                    "description": "d",
                    "options": [_option("a", choices=[{"name": "c", "value": "c"}] * 26)],
                }
            ),
        ),
        (
            "modal.title",
            rules.check_modal({"title": "t" * 46, "custom_id": "m", "components": [{}]}),
        ),
    ],
)
def test_rules_catch_each_limit(rule: str, violations: list[rules.Violation]) -> None:
    assert rule in {v.rule for v in violations}, violations


def test_rules_accept_a_well_formed_message() -> None:
    # Every limit reached but none exceeded; custom_ids unique across the message.
    rows = [
        {"type": 1, "components": [_button(f"{row}-{n}", "l" * 80) for n in range(5)]}
        for row in range(5)
    ]
    payload = {
        "content": "c" * 2000,
        "embeds": [{"title": "t" * 256, "description": "d" * 4096}],
        "components": rows,
        "allowed_mentions": {"parse": [], "replied_user": False},
    }
    assert rules.check_message(payload, creating=True) == []


def test_discord_internals_the_fake_relies_on() -> None:
    """If discord.py moves these, run_client can no longer redirect it to the fake."""
    assert discord.version_info[:2] == (2, 7), discord.__version__
    assert isinstance(discord.http.Route.BASE, str)
    assert discord.http.Route.BASE.startswith("https://discord.com/api/v10")
    assert isinstance(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY, yarl.URL)
    # Routes read BASE when built, so patching the class attribute is enough.
    original = discord.http.Route.BASE
    try:
        discord.http.Route.BASE = "http://127.0.0.1:1/api/v10"
        assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:1/api/v10/users/@me"
    finally:
        discord.http.Route.BASE = original


def test_connects_and_becomes_ready(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        await asyncio.wait_for(bot.ready_fired.wait(), 5)
        assert bot.user is not None and str(bot.user.id) == fake.bot_user["id"]
        assert bot.application_id == int(fake.application_id)
        guild = bot.get_guild(int(fake.guild.id))
        assert guild is not None and guild.name == "Test Guild"
        assert guild.member_count == len(fake.guild.members)
        assert guild.me is not None  # the bot's own member came with GUILD_CREATE
        assert guild.get_channel(int(fake.channel["id"])) is not None
        assert guild.get_thread(int(fake.thread["id"])) is not None
        assert guild.default_role.id == guild.id
        assert fake.heartbeats_acked >= 1  # discord.py beats once right after HELLO
        assert bot.latency < 5
        assert fake.intents == discord.Intents.default().value

    run(fake, body)
    paths = [r.path for r in fake.requests]
    assert paths[:2] == ["/users/@me", "/oauth2/applications/@me"]


def test_command_sync_is_recorded_and_checked(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        sync = [a for a in fake.actions if a.kind == "commands_sync"]
        assert len(sync) == 1 and sync[0].ok and sync[0].guild_id == fake.guild.id
        names = {c["name"] for c in fake.guild_commands[fake.guild.id]}
        assert {"ping", "topic", "vote", "ingest"} <= names
        topic = next(c for c in fake.guild_commands[fake.guild.id] if c["name"] == "topic")
        assert topic["options"][0]["autocomplete"] is True

        # discord.py refuses bad names itself, so send the raw payload a buggy
        # registration would produce.
        bad = [{"name": "Ping", "description": "", "type": 1}]
        assert bot.application_id is not None
        with pytest.raises(discord.HTTPException) as info:
            await bot.http.bulk_upsert_guild_commands(bot.application_id, fake.guild.id, bad)
        assert info.value.status == 400 and info.value.code == 50035
        assert "lower case" in (await fake.expect_breach("command.name")).message
        await fake.expect_breach("command.description")
        fake.assert_no_breaches()
        # The rejected sync did not replace the good commands.
        assert len(fake.guild_commands[fake.guild.id]) == len(names)

    run(fake, body)


# --- interactions ------------------------------------------------------------------------


def test_slash_command_defers_then_follows_up(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        handle = await fake.send_command("ping")
        callback = await handle.next("callback")
        assert callback.callback_type == 5
        followup = await handle.next("followup")
        assert followup.embeds[0]["title"] == "Pong"
        assert followup.allowed_mentions == {"parse": []}
        # Discord's rule: the first followup after a defer fills the "thinking" message.
        original = handle.original
        assert original is not None and original["id"] == followup.message_id
        assert original["embeds"][0]["title"] == "Pong" and not original["flags"] & 128
        assert original["interaction_metadata"]["id"] == handle.id

    run(fake, body)


def test_autocomplete_returns_choices(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        handle = await fake.send_autocomplete("topic", {"name": "topic-"}, focused="name")
        callback = await handle.next("callback")
        assert callback.callback_type == 8
        choices = callback.payload["data"]["choices"]
        assert len(choices) == 25 and choices[0] == {"name": "topic-00", "value": "topic-00"}

        command = await fake.send_command("topic", {"name": "energy"})
        reply = await command.next("callback")
        assert reply.content == "Following energy"

    run(fake, body)


def test_button_click_updates_the_message(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        command = await fake.send_command("vote")
        sent = await command.next("callback")
        assert sent.message is not None
        assert sent.components[0]["components"][0]["custom_id"] == "vote:up"

        click = await fake.send_component(sent.message, "vote:up", user=fake.admin)
        update = await click.next("callback")
        assert update.callback_type == 7 and bot.clicks == ["up"]
        stored = fake.messages[sent.message["id"]]
        assert stored["content"] == "Thanks for voting!" and stored["components"] == []

    run(fake, body)


def test_attachment_option_is_downloaded_by_the_bot(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        handle = await fake.send_command("ingest", {"file": ("article.txt", b"Some news text")})
        callback = await handle.next("callback")
        assert callback.content == "Ingested article.txt: 14 bytes"
        assert callback.flags & 64  # ephemeral
        assert any(r.path.startswith("/attachments/") for r in fake.requests)

    run(fake, body)


def test_subcommand_options_and_ephemeral_file_followup(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        options = {"topic": "energy", "count": 5, "reader": fake.admin, "where": fake.channel}
        handle = await fake.send_command("news latest", options)
        sent = handle.payload["data"]["options"][0]
        assert sent["type"] == 1 and [o["type"] for o in sent["options"]] == [3, 4, 6, 7]
        assert (await handle.next("callback")).callback_type == 5
        followup = await handle.next("followup")
        assert followup.content == "5 on energy for alice in #general"
        assert [f.filename for f in followup.files] == ["articles.txt"]
        edit = await handle.next("original_edit")
        assert edit.content is not None and edit.content.endswith("(done)")
        original = handle.original
        assert original is not None and original["flags"] & 64  # stayed ephemeral
        assert original["attachments"][0]["filename"] == "articles.txt"
        assert fake.channel_history(fake.channel) == []  # ephemeral: not in history

    run(fake, body)


def test_modal_round_trip(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        command = await fake.send_command("feedback")
        modal = await command.next("callback")
        assert modal.callback_type == 9 and modal.body["title"] == "Feedback"
        submit = await fake.send_modal_submit(command, {"feedback:text": "Great bot"})
        assert (await submit.next("callback")).content == "Got: Great bot"

    run(fake, body)


def test_thread_typing_reaction_and_dm(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        handle = await fake.send_command("discuss")
        origin = await handle.callback()
        assert origin.message is not None
        stream = fake.stream(lambda a: a.kind != "callback", "the discussion")
        created = await stream.next("thread_create")
        assert created.message_id is not None
        assert created.message_id == origin.message["id"]  # threads share the message id
        assert (await stream.next("typing")).channel_id == created.message_id
        welcome = await stream.next("message")
        assert welcome.channel_id == created.message_id
        reaction = await stream.next("reaction_add")
        assert reaction.payload == {"emoji": "\N{THUMBS UP SIGN}"}
        assert (await stream.next("dm_open")).channel_id == fake.dm["id"]
        assert (await stream.next("message")).channel_id == fake.dm["id"]
        assert bot.get_channel(int(created.message_id)) is not None  # THREAD_CREATE arrived

    run(fake, body)


# --- messages ----------------------------------------------------------------------------


def test_mention_and_dm_get_replies_that_ping_nobody(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        asked = await fake.send_message("what about energy?", mention_bot=True)
        reply = await asked.next("message")
        assert reply.content == "You asked: @Geobot what about energy?"
        assert reply.allowed_mentions == {"parse": [], "replied_user": False}
        assert reply.message is not None and reply.message["mentions"] == []
        assert reply.message["referenced_message"]["id"] == asked.message["id"]

        dm = await fake.send_message("hello in private", dm=True)
        dm_reply = await dm.next("message")
        assert dm_reply.channel_id == fake.dm["id"]
        assert dm_reply.content == "You asked: hello in private"

        in_thread = await fake.send_message("and here?", channel=fake.thread, mention_bot=True)
        assert (await in_thread.next("message")).channel_id == fake.thread["id"]

        # Replying to the bot pings it (Discord adds the replied author to mentions).
        assert reply.message_id is not None
        follow_up = await fake.send_message("tell me more", reply_to=reply.message_id)
        assert follow_up.message["referenced_message"]["id"] == reply.message_id
        assert (await follow_up.next("message")).content == "You asked: tell me more"

        # Not mentioned, not a DM: no reply; and without the MESSAGE_CONTENT intent the
        # bot would not even have seen the text.
        chatter = await fake.send_message("just chatting")
        await chatter.expect_nothing(0.2)
        # The bot's own replies were echoed back to it and ignored (no reply loop).
        assert len([a for a in fake.actions if a.kind == "message"]) == 4

    run(fake, body)


def test_messages_follow_the_bots_intents(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        await fake.send_message("plain text")
        await fake.send_message("to the bot", mention_bot=True)
        handle = await fake.send_message("a DM", dm=True)
        assert not handle.delivered
        with pytest.raises(NotDelivered):
            await handle.next("message", timeout=0.2)
        await asyncio.sleep(0.1)
        assert bot.seen[0] == ""  # content blanked: no MESSAGE_CONTENT intent
        assert bot.seen[1].endswith("to the bot")
        assert not fake.intents & Intent.DIRECT_MESSAGES

    intents = discord.Intents.default()
    intents.dm_messages = False
    run(fake, body, intents=intents)


def test_rate_limit_with_via_header_is_retried(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        fake.fail_next("POST", r"^/channels/\d+/messages$", status=429, retry_after=0.05)
        asked = await fake.send_message("still there?", mention_bot=True)
        reply = await asked.next("message")
        assert reply.content is not None and reply.content.endswith("still there?")
        statuses = [r.status for r in fake.requests if r.path.endswith("/messages")]
        assert statuses[-2:] == [429, 200]

    run(fake, body)


def test_refused_privileged_intents_and_bad_token_fail_startup(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    fake.enabled_privileged_intents = 0

    async def main() -> None:
        greedy = discord.Client(intents=discord.Intents.all(), guild_ready_timeout=0.05)
        with pytest.raises(discord.PrivilegedIntentsRequired):
            async with run_client(greedy, fake):
                pass
        await fake.expect_breach("gateway.intents")
        plain = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        with pytest.raises(discord.LoginFailure):
            async with run_client(plain, fake, token="not-the-token"):
                pass
        await fake.expect_breach("rest.unauthorized")

    asyncio.run(asyncio.wait_for(main(), timeout=10))


def test_members_intent_gets_every_member(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    intents = discord.Intents.default()
    intents.members = True

    async def body(bot: TestBot) -> None:
        guild = bot.get_guild(int(fake.guild.id))
        assert guild is not None and guild.chunked
        assert {m.name for m in guild.members} == {"owner", "alice", "bob", "geobot"}
        alice = guild.get_member(int(fake.admin["user"]["id"]))
        assert alice is not None and alice.guild_permissions.manage_guild
        bob = guild.get_member(int(fake.member["user"]["id"]))
        assert bob is not None and not bob.guild_permissions.manage_guild

    run(fake, body, intents=intents)


# --- breaches ------------------------------------------------------------------------------


def test_sending_without_permission_is_forbidden(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    read_only = fake.add_text_channel(
        fake.guild,
        "announcements",
        permission_overwrites=[
            {"id": fake.guild.id, "type": 0, "allow": "0", "deny": str(Permission.SEND_MESSAGES)}
        ],
    )

    async def body(bot: TestBot) -> None:
        asked = await fake.send_message("anyone?", channel=read_only, mention_bot=True)
        refused = await asked.next("message", include_rejected=True)
        assert refused.status == 403
        assert "SEND_MESSAGES" in (await fake.expect_breach("permissions.missing")).message

    run(fake, body)


def test_too_long_content_is_refused_and_recorded(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        handle = await fake.send_command("long")
        rejected = await handle.next("callback", include_rejected=True)
        assert rejected.status == 400
        breach = await fake.expect_breach("content.length")
        assert "2001" in breach.message

    run(fake, body)


def test_oversized_embed_is_refused_and_recorded(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        await fake.send_command("bigembed")
        await fake.expect_breach("embed.title")
        await fake.expect_breach("embeds.total")
        breaches = fake.take_breaches("embed.field_value")
        assert len(breaches) == 3

    run(fake, body)


def test_send_without_allowed_mentions_is_a_breach(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        handle = await fake.send_command("shout")
        await handle.next("callback")
        posted = await fake.channel_actions(fake.channel).next("message")
        # Discord accepts it (and would ping): the policy breach is recorded regardless.
        assert posted.ok and posted.allowed_mentions is None
        assert posted.message is not None and posted.message["mentions"]
        breach = await fake.expect_breach("allowed_mentions.missing")
        assert "/channels/" in breach.path

    run(fake, body, allowed_mentions=None)


def test_late_first_response_is_refused_and_recorded(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    fake.interaction_deadline = 0.3  # the command sleeps 0.5 s

    async def body(bot: TestBot) -> None:
        handle = await fake.send_command("slow")
        late = await handle.next("callback", include_rejected=True)
        assert late.status == 404
        assert "limit 0.30s" in (await fake.expect_breach("interaction.deadline")).message

    run(fake, body)


def test_second_callback_is_refused_and_recorded(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        handle = await fake.send_command("twice")
        assert (await handle.next("callback")).ok
        second = await handle.next("callback", include_rejected=True)
        assert second.status == 400
        await fake.expect_breach("interaction.double_ack")

    run(fake, body)


def test_unknown_route_is_a_404_and_a_breach(fake_discord: FakeDiscord) -> None:
    fake = fake_discord

    async def body(bot: TestBot) -> None:
        with pytest.raises(discord.NotFound):
            await bot.fetch_guild_preview(int(fake.guild.id))
        await fake.expect_breach("rest.unknown_route")

    run(fake, body)
