"""The daily briefing: composition (stories, quotes, outlets), the schedule (time zones,
once a day, restarts, quiet days) and /briefing against the fake Discord, on a fake clock
that the tests move: no test waits for the wall clock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from briefing_news import BRIEFING_DAY, DAY_NEWS, OLD_NEWS
from corpus import CORPUS
from fake_discord import fixtures
from fake_discord.client import run_client
from fake_discord.objects import Permission
from fake_discord.server import FakeDiscord
from fakes import HashingEmbedder
from test_discord_bot import all_text, make_config

from bot.answers.briefing import compose_briefing
from bot.answers.service import AnswerService
from bot.answers.source_policy import SourcePolicy
from bot.config import BotConfig
from bot.discord import Backend, GeobotClient
from bot.discord.briefing_render import render_briefing
from bot.discord.briefings import due_day, next_post_at
from bot.server_state import Briefing, ServerStore
from bot.state import BotState
from index import Embedder, KnowledgeBase

fake_discord = fixtures.fake_discord

EPHEMERAL = 64


class FakeClock:
    """The time, as the test sets it (aware UTC)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def news_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    config = BotConfig(data_dir=tmp_path_factory.mktemp("briefing-kb"))
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    kb.ingest_articles([*CORPUS, *DAY_NEWS, *OLD_NEWS])
    return kb


# -- composing ---------------------------------------------------------------------------


def test_articles_of_one_event_make_one_story_with_quotes_from_two_outlets(
    news_kb: KnowledgeBase,
) -> None:
    briefing = compose_briefing(news_kb, until=BRIEFING_DAY.replace(hour=9))
    assert briefing.article_count == 4  # the March inspection and older news are out
    dam, chess = briefing.stories
    assert len(dam.articles) == 3 and len(chess.articles) == 1
    assert set(dam.reporters) == {("River Post", "MD"), ("Wire One", "GB"), ("Danube Daily", "RO")}
    assert chess.reporters == (("Board Weekly", "GE"),)
    # One or two quotes, each a whole sentence of its article word for word, from two
    # different outlets.
    assert len(dam.quotes) == 2 and len(chess.quotes) == 1
    assert len({q.article.outlet for q in dam.quotes}) == 2
    for quote in (*dam.quotes, *chess.quotes):
        assert quote.article.text[quote.start : quote.end] == quote.text
        assert quote.text.endswith(".")
    assert "Dniester" in dam.headline


def test_a_topic_and_left_out_sources_narrow_the_briefing(news_kb: KnowledgeBase) -> None:
    until = BRIEFING_DAY.replace(hour=9)
    chess = compose_briefing(news_kb, until=until, topic="chess olympiad")
    assert [s.headline for s in chess.stories] == [
        "Chess olympiad opens in Tbilisi with record entry"
    ]
    policy = SourcePolicy(exclude_outlets=("river post",), exclude_countries=("GE",))
    narrowed = compose_briefing(news_kb, until=until, sources=policy)
    (dam,) = narrowed.stories
    assert {o for o, _ in dam.reporters} == {"Wire One", "Danube Daily"}


def test_a_day_without_articles_is_quiet(news_kb: KnowledgeBase) -> None:
    briefing = compose_briefing(news_kb, until=BRIEFING_DAY + timedelta(days=2))
    assert briefing.quiet and briefing.article_count == 0
    assert render_briefing(briefing) == []


def test_the_rendered_briefing_cites_links_and_keeps_within_discord_limits(
    news_kb: KnowledgeBase,
) -> None:
    (embeds,) = render_briefing(compose_briefing(news_kb, until=BRIEFING_DAY.replace(hour=9)))
    dam = embeds[0].to_dict()
    assert dam["author"]["name"] == "Daily briefing, 2 May 2024"
    assert dam["title"].startswith("1. ")
    assert "[1]" in dam["description"] and "[2]" in dam["description"]
    assert "(https://news.example/dam-" in dam["description"]
    assert "River Post (MD)" in dam["description"] and "3 articles" in dam["description"]
    assert "[3]" in embeds[1].to_dict()["description"]
    assert "4 articles" in embeds[-1].to_dict()["footer"]["text"]


# -- the schedule ------------------------------------------------------------------------


def briefing_at(at: str, zone: str, last_day: date | None = None) -> Briefing:
    return Briefing(guild_id=1, channel_id=2, at=at, timezone=zone, last_day=last_day)


def test_due_in_the_servers_time_zone_once_a_day() -> None:
    paris = briefing_at("08:00", "Europe/Paris")  # UTC+2 in summer
    assert due_day(paris, datetime(2024, 7, 1, 5, 59, tzinfo=UTC)) is None
    assert due_day(paris, datetime(2024, 7, 1, 6, 0, tzinfo=UTC)) == date(2024, 7, 1)
    posted = briefing_at("08:00", "Europe/Paris", last_day=date(2024, 7, 1))
    assert due_day(posted, datetime(2024, 7, 1, 20, 0, tzinfo=UTC)) is None
    assert next_post_at(posted, datetime(2024, 7, 1, 20, 0, tzinfo=UTC)) == datetime(
        2024, 7, 2, 6, 0, tzinfo=UTC
    )
    # Late in the evening in New York it is already tomorrow in UTC, not there.
    new_york = briefing_at("23:30", "America/New_York", last_day=date(2024, 7, 1))
    assert due_day(new_york, datetime(2024, 7, 2, 3, 0, tzinfo=UTC)) is None
    assert due_day(new_york, datetime(2024, 7, 3, 3, 30, tzinfo=UTC)) == date(2024, 7, 2)


def test_a_time_skipped_by_daylight_saving_still_posts_that_day() -> None:
    # 02:30 does not exist in Paris on 31 March 2024 (clocks go from 02:00 to 03:00).
    skipped = briefing_at("02:30", "Europe/Paris", last_day=date(2024, 3, 30))
    assert due_day(skipped, datetime(2024, 3, 31, 0, 59, tzinfo=UTC)) is None
    assert due_day(skipped, datetime(2024, 3, 31, 1, 0, tzinfo=UTC)) == date(2024, 3, 31)


def claims_racing(store: ServerStore, day: date, racers: int) -> list[bool]:
    """`racers` threads claiming `day` at the same moment: what each got."""
    barrier = threading.Barrier(racers)
    wins: list[bool] = []

    def claim() -> None:
        barrier.wait()
        wins.append(store.claim_day(1, day))

    threads = [threading.Thread(target=claim) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return wins


def test_only_one_claim_of_a_day_wins(tmp_path: Path) -> None:
    for attempt in range(12):
        state = BotState(tmp_path / f"bot{attempt}.sqlite3")
        store = state.servers
        store.set_briefing(briefing_at("08:00", "UTC"))
        wins = claims_racing(store, date(2024, 5, 2), 8)
        assert sorted(wins) == [False] * 7 + [True]
        # An earlier day cannot be claimed after a later one; a failed send gives it back.
        assert not store.claim_day(1, date(2024, 5, 1))
        store.release_day(1, date(2024, 5, 2), None)
        assert store.claim_day(1, date(2024, 5, 2))
        state.close()


# -- on Discord --------------------------------------------------------------------------


def news_backend(config: BotConfig) -> Backend:
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    if not kb.article_count():
        kb.ingest_articles([*CORPUS, *DAY_NEWS, *OLD_NEWS])
    state = BotState(config.resolved_data_dir() / "bot.sqlite3")
    return Backend(AnswerService(kb, config.answers), state)


def run_with_clock(
    fake: FakeDiscord,
    config: BotConfig,
    clock: FakeClock,
    body: Callable[[GeobotClient], Awaitable[None]],
    *,
    in_background: bool = False,
) -> None:
    """Run the bot on `clock`; the test ticks the scheduler itself unless `in_background`."""

    async def main() -> None:
        client = GeobotClient(
            config,
            lambda: news_backend(config),
            clock=clock,
            schedule_briefings=in_background,
        )
        async with run_client(client, fake):
            await body(client)

    asyncio.run(asyncio.wait_for(main(), timeout=60))


def posts_in(fake: FakeDiscord, channel: dict[str, object]) -> list[dict[str, object]]:
    return [m for m in fake.channel_history(channel) if m["author"]["id"] == fake.bot_user["id"]]


# 11:00 in Chisinau is 08:00 UTC in May (UTC+3).
SET = {"time": "11:00", "timezone": "Europe/Chisinau"}


def test_briefing_is_posted_once_a_day_survives_restarts_and_says_quiet_once(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    news = fake_discord.other_channel
    clock = FakeClock(datetime(2024, 5, 2, 7, 0, tzinfo=UTC))

    async def first_run(client: GeobotClient) -> None:
        handle = await fake_discord.send_command(
            "briefing set", {**SET, "channel": news["id"]}, user=fake_discord.admin
        )
        reply = await handle.next("followup")
        assert reply.flags & EPHEMERAL
        assert "11:00 (Europe/Chisinau)" in (reply.content or "")
        assert "2 May 2024 at 11:00" in (reply.content or "")
        assert await client.briefings.tick() == []  # 10:00 there: not yet
        clock.now = datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
        await client.briefings.tick()
        await client.briefings.tick()  # the same day again: nothing more
        (post,) = posts_in(fake_discord, news)
        text = str(post)
        assert "Daily briefing, 2 May 2024" in text and "Dniester" in text
        assert "Chess olympiad" in text and "Board Weekly (GE)" in text

    run_with_clock(fake_discord, config, clock, first_run)

    async def after_restart(client: GeobotClient) -> None:
        clock.now = datetime(2024, 5, 2, 20, 0, tzinfo=UTC)
        await client.briefings.tick()
        assert len(posts_in(fake_discord, news)) == 1  # still that one post
        # The next day: no article in the last 24 hours. Said once, then silence.
        clock.now = datetime(2024, 5, 3, 8, 5, tzinfo=UTC)
        await client.briefings.tick()
        quiet = posts_in(fake_discord, news)[-1]
        assert "No new articles came in over the last 24 hours" in str(quiet["content"])
        clock.now = datetime(2024, 5, 4, 8, 5, tzinfo=UTC)
        await client.briefings.tick()
        assert len(posts_in(fake_discord, news)) == 2

    run_with_clock(fake_discord, config, clock, after_restart)


def test_briefing_set_after_todays_time_starts_tomorrow_and_off_stops_it(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    clock = FakeClock(datetime(2024, 5, 2, 9, 0, tzinfo=UTC))  # 12:00 in Chisinau

    async def body(client: GeobotClient) -> None:
        handle = await fake_discord.send_command(
            "briefing set", {**SET, "channel": fake_discord.channel["id"]}, user=fake_discord.admin
        )
        assert "3 May 2024 at 11:00" in ((await handle.next("followup")).content or "")
        await client.briefings.tick()
        assert posts_in(fake_discord, fake_discord.channel) == []
        off = await fake_discord.send_command("briefing off", {}, user=fake_discord.admin)
        assert "off" in ((await off.next("followup")).content or "")
        clock.now = datetime(2024, 5, 3, 8, 5, tzinfo=UTC)
        await client.briefings.tick()
        assert posts_in(fake_discord, fake_discord.channel) == []

    run_with_clock(fake_discord, config, clock, body)


def test_briefing_now_posts_at_once_and_members_cannot_use_briefing(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    clock = FakeClock(datetime(2024, 5, 2, 9, 0, tzinfo=UTC))

    async def body(client: GeobotClient) -> None:
        for name, options in (
            ("briefing set", {**SET, "channel": fake_discord.channel["id"]}),
            ("briefing now", {}),
            ("briefing off", {}),
        ):
            refused = await fake_discord.send_command(name, options)  # a plain member
            reply = await refused.next("callback")
            assert reply.flags & EPHEMERAL and "Manage Server" in (reply.content or ""), name
        assert client.backend.state.servers.briefings() == []

        bad = await fake_discord.send_command(
            "briefing set",
            {"channel": fake_discord.channel["id"], "time": "25:00"},
            user=fake_discord.admin,
        )
        assert "24-hour clock" in ((await bad.next("callback")).content or "")
        zone = await fake_discord.send_command(
            "briefing set",
            {"channel": fake_discord.channel["id"], "time": "08:00", "timezone": "Mars/Olympus"},
            user=fake_discord.admin,
        )
        assert "time zone name" in ((await zone.next("callback")).content or "")
        typed = await fake_discord.send_autocomplete(
            "briefing set",
            {"channel": fake_discord.channel["id"], "time": "08:00", "timezone": "chisin"},
            focused="timezone",
            user=fake_discord.admin,
        )
        choices = (await typed.next("callback")).payload["data"]["choices"]
        assert [c["value"] for c in choices] == ["Europe/Chisinau"]

        now = await fake_discord.send_command(
            "briefing now", {"topic": "chess"}, user=fake_discord.admin
        )
        shown = await now.next("followup")
        assert not shown.flags & EPHEMERAL
        assert "Chess olympiad" in all_text(shown) and "Dniester" not in all_text(shown)
        clock.now = datetime(2024, 6, 1, tzinfo=UTC)
        quiet = await fake_discord.send_command("briefing now", {}, user=fake_discord.admin)
        assert "No new articles" in ((await quiet.next("followup")).content or "")

    run_with_clock(fake_discord, config, clock, body)


# -- sources preferred or left out (the retrieval under /settings sources) ---------------


def test_a_preferred_outlet_ranks_higher_and_a_left_out_one_is_never_retrieved(
    news_kb: KnowledgeBase,
) -> None:
    def retrieved(policy: SourcePolicy, question: str) -> list[tuple[str | None, str | None]]:
        service = AnswerService(news_kb, sources=policy)
        found = service.retrieve(question, as_of=date(2024, 5, 3))
        return [(r.hit.article.outlet, r.hit.article.country) for r in found.passages]

    question = "ceasefire talks mediators"
    plain = [outlet for outlet, _ in retrieved(SourcePolicy(), question)]
    assert plain[0] != "Le Journal" and "Le Journal" in plain
    preferred = [
        outlet for outlet, _ in retrieved(SourcePolicy(prefer_outlets=("le journal",)), question)
    ]
    assert preferred.index("Le Journal") < plain.index("Le Journal")
    policy = SourcePolicy(exclude_outlets=("LE JOURNAL",), exclude_countries=("md",))
    assert ("Le Journal", None) not in retrieved(policy, question)
    dam = retrieved(policy, "Dniester dam breach villages evacuate")
    assert dam and all(country != "MD" for _, country in dam)
    assert any(country == "MD" for _, country in retrieved(SourcePolicy(), "Dniester dam breach"))


@pytest.mark.model
def test_on_the_real_model_one_event_is_one_story(real_embedder: Embedder, tmp_path: Path) -> None:
    """The default `same_story` threshold on the bundled model: the three reports of the
    dam breach (cosine 0.86 to 0.90 between them) are one story, apart from the chess
    olympiad (under 0.25 to any of them)."""
    kb = KnowledgeBase.open(BotConfig(data_dir=tmp_path), real_embedder)
    kb.ingest_articles([*CORPUS, *DAY_NEWS, *OLD_NEWS])
    briefing = compose_briefing(kb, until=BRIEFING_DAY.replace(hour=9))
    assert [len(s.articles) for s in briefing.stories] == [3, 1]
    assert "Chess" in briefing.stories[1].headline
    kb.close()


def test_a_passing_send_failure_is_retried_and_a_closed_channel_is_not(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    news = fake_discord.other_channel
    clock = FakeClock(datetime(2024, 5, 2, 7, 0, tzinfo=UTC))
    messages = rf"/channels/{news['id']}/messages"

    async def body(client: GeobotClient) -> None:
        handle = await fake_discord.send_command(
            "briefing set", {**SET, "channel": news["id"]}, user=fake_discord.admin
        )
        await handle.next("followup")
        clock.now = datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
        # Discord unavailable (a 503, not retried by discord.py): the day is given back...
        fake_discord.fail_next("POST", messages, status=503)
        (failed,) = await client.briefings.tick()
        assert failed.result == "failed" and posts_in(fake_discord, news) == []
        # ... and the next tick posts it, once.
        (posted,) = await client.briefings.tick()
        assert posted.result == "posted" and len(posts_in(fake_discord, news)) == 1
        # The bot may not post there any more (a 403): that day is skipped, not retried.
        clock.now = datetime(2024, 5, 3, 8, 30, tzinfo=UTC)
        fake_discord.fail_next("POST", messages, status=403, code=50013)
        (refused,) = await client.briefings.tick()
        assert refused.result == "failed"
        assert await client.briefings.tick() == []
        assert len(posts_in(fake_discord, news)) == 1

    run_with_clock(fake_discord, config, clock, body)


def test_the_background_scheduler_posts_when_the_time_has_come(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    news = fake_discord.other_channel
    clock = FakeClock(datetime(2024, 5, 2, 7, 0, tzinfo=UTC))

    async def set_it(client: GeobotClient) -> None:
        handle = await fake_discord.send_command(
            "briefing set", {**SET, "channel": news["id"]}, user=fake_discord.admin
        )
        await handle.next("followup")

    run_with_clock(fake_discord, config, clock, set_it)
    clock.now = datetime(2024, 5, 2, 8, 1, tzinfo=UTC)

    async def started_after_the_time(client: GeobotClient) -> None:
        posted = await fake_discord.channel_actions(news).next("message")
        assert "Daily briefing, 2 May 2024" in all_text(posted)

    run_with_clock(fake_discord, config, clock, started_after_the_time, in_background=True)
    assert len(posts_in(fake_discord, news)) == 1


def test_briefing_set_refuses_a_channel_the_bot_cannot_post_in(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    bot_id = fake_discord.bot_user["id"]
    closed = fake_discord.add_text_channel(
        fake_discord.guild,
        "announcements",
        permission_overwrites=[
            {"id": bot_id, "type": 1, "allow": "0", "deny": str(int(Permission.SEND_MESSAGES))}
        ],
    )
    config = make_config(tmp_path, fake_discord)
    clock = FakeClock(datetime(2024, 5, 2, 7, 0, tzinfo=UTC))

    async def body(client: GeobotClient) -> None:
        handle = await fake_discord.send_command(
            "briefing set", {**SET, "channel": closed["id"]}, user=fake_discord.admin
        )
        reply = await handle.next("callback")
        assert reply.flags & EPHEMERAL and "I can't post in" in (reply.content or "")
        assert client.backend.state.servers.briefings() == []

    run_with_clock(fake_discord, config, clock, body)


def test_the_two_quotes_of_a_story_come_from_two_outlets(tmp_path: Path) -> None:
    # River Post reports the breach twice, in nearly the same words: its two reports are
    # the story's most central articles, yet the second quote is another outlet's.
    follow_up = replace(
        DAY_NEWS[0],
        source="mem:dam-1b",
        url="https://news.example/dam-1b",
        title="Dam breach floods Dniester valley villages (update)",
        text=DAY_NEWS[0].text.replace("early on Thursday", "on Thursday morning"),
    )
    kb = KnowledgeBase.open(BotConfig(data_dir=tmp_path), HashingEmbedder(dimension=256))
    kb.ingest_articles([*DAY_NEWS, follow_up])
    dam = compose_briefing(kb, until=BRIEFING_DAY.replace(hour=9)).stories[0]
    assert [a.outlet for a in dam.articles[:2]] == ["River Post", "River Post"]
    assert len({q.article.outlet for q in dam.quotes}) == 2
    kb.close()
