"""Feed parsing, feed state and the outlet table, without a network."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from feed_states import feeds_of

from index import BadInputError, Config, KnowledgeBase, NotFoundError, ParsedArticle
from index.config import OutletInfo
from index.sources.outlets import OutletTable, domain_of
from index.web.feed_store import EntryOutcome, EntryStates, FeedStore
from index.web.feeds import parse_feed

FEEDS = Path(__file__).parent / "data" / "feeds"
BASE = "https://news.example"


def fixture(name: str) -> bytes:
    return (FEEDS / name).read_text(encoding="utf-8").replace("{base}", BASE).encode()


# -- parsing -------------------------------------------------------------------------------


def test_rss20_entries_keys_links_dates_and_text() -> None:
    feed = parse_feed(fixture("rss20.xml"), url=f"{BASE}/rss.xml")

    assert (feed.format, feed.title, feed.language) == ("RSS 2.0", "Harbour Wire – World", "en-gb")
    first, second = feed.entries
    assert first.key == "harbour-2025-0301"
    assert first.link == f"{BASE}/world/baltic-air-defence.html"
    assert first.published == datetime(2025, 3, 1, 8, 30)
    assert first.author == "Ines Kalnina"
    assert first.content == "Estonia, Latvia and Lithuania agreed a joint air defence plan."
    assert second.published == datetime(2025, 3, 4, 9, 15)  # +0100 to UTC


def test_atom_falls_back_to_updated_and_turns_html_summaries_into_text() -> None:
    feed = parse_feed(fixture("atom10.xml"), url=f"{BASE}/atom.xml")

    assert feed.format == "Atom 1.0"
    mekong, coast = feed.entries
    assert mekong.published == datetime(2025, 3, 4, 23, 0)
    assert mekong.author == "Somchai Wongsa"
    assert coast.published == datetime(2025, 3, 6, 11, 45)
    assert coast.content == "The Philippines and Vietnam signed a coast guard accord."


def test_rss10_and_rss091() -> None:
    rdf = parse_feed(fixture("rss10.rdf"), url=f"{BASE}/rss10.rdf")
    old = parse_feed(fixture("rss091.xml"), url=f"{BASE}/rss091.xml")

    assert rdf.format == "RSS 1.0" and len(rdf.entries) == 2
    assert rdf.entries[0].published == datetime(2025, 2, 20, 14, 0)
    assert old.format == "RSS 0.91"
    assert old.entries[0].published is None
    assert old.entries[0].key == f"{BASE}/andes/border-crossing.html"  # no guid: the link


def test_content_encoded_wins_over_the_summary_and_keeps_paragraphs() -> None:
    xml = b"""<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>T</title><item><title>A</title><link>https://news.example/a</link>
<description>Short teaser.</description>
<content:encoded><![CDATA[<p>First paragraph, <b>bold</b>.</p><script>x()</script>
<p>Second&nbsp;paragraph.</p>]]></content:encoded></item></channel></rss>"""

    (entry,) = parse_feed(xml, url="https://news.example/rss").entries

    assert entry.content == "First paragraph, bold.\n\nSecond paragraph."


def test_relative_links_are_resolved_and_entries_without_id_or_link_get_a_hash_key() -> None:
    xml = b"""<rss version="2.0"><channel><title>T</title>
<item><title>Relative</title><link>/stories/1.html</link></item>
<item><title>Nothing but text</title><description>Some words.</description></item>
<item></item></channel></rss>"""

    relative, bare = parse_feed(xml, url="https://news.example/feeds/rss").entries

    assert relative.link == "https://news.example/stories/1.html"
    assert bare.link is None and bare.key.startswith("hash:")


def test_only_a_real_link_or_an_absolute_http_id_is_an_entrys_link() -> None:
    xml = b"""<rss version="2.0"><channel><title>T</title>
<item><title>A</title><guid>right</guid></item>
<item><title>B</title><guid>Incorrect Value</guid></item>
<item><title>C</title><guid>/stories/3.html</guid></item>
<item><title>D</title><guid>https://news.example/stories/4.html</guid></item>
<item><title>E</title><guid isPermaLink="false">https://news.example/stories/5.html</guid></item>
<item><title>F</title><guid>tag:news.example,2025:6</guid></item>
<item><title>G</title><guid>right</guid><link>stories/7.html</link></item>
</channel></rss>"""

    entries = parse_feed(xml, url="https://news.example/feeds/rss").entries

    assert [(e.key, e.link) for e in entries] == [
        ("right", None),
        ("Incorrect Value", None),
        ("/stories/3.html", None),
        ("https://news.example/stories/4.html", "https://news.example/stories/4.html"),
        ("https://news.example/stories/5.html", None),
        ("tag:news.example,2025:6", None),
        ("right", "https://news.example/feeds/stories/7.html"),
    ]


def test_empty_items_are_counted() -> None:
    xml = b"""<rss version="2.0"><channel><title>T</title>
<item><title>Kept</title></item><item></item><item><title> </title><description/></item>
</channel></rss>"""

    feed = parse_feed(xml, url="https://news.example/rss")

    assert [e.title for e in feed.entries] == ["Kept"] and feed.empty_entries == 2


def test_the_http_headers_decide_the_encoding_the_base_url_and_the_language() -> None:
    title = "Łódź: tramwaj wraca na ulicę Piotrkowską"
    xml = (
        '<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel>'
        f"<title>{title}</title><item><title>{title}</title><link>story.html</link></item>"
        "</channel></rss>"
    ).encode("iso-8859-2")
    headers = {
        "Content-Type": "application/rss+xml; charset=ISO-8859-2",
        "Content-Location": "/world/feed.xml",
        "Content-Language": "pl",
    }

    feed = parse_feed(xml, url="https://news.example/old-feed.xml", headers=headers)
    declared = parse_feed(xml, url="https://news.example/old-feed.xml")

    assert feed.title == title and feed.entries[0].title == title
    assert feed.entries[0].link == "https://news.example/world/story.html"
    assert feed.url == "https://news.example/old-feed.xml"
    assert feed.language == "pl"  # the feed names none
    # Without the header the declaration (wrong here) is all there is.
    assert declared.title != title
    assert declared.entries[0].link == "https://news.example/story.html"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<html><body><p>A web page</p></body></html>", "not an RSS or Atom feed"),
        (b'{"items": []}', "not an RSS or Atom feed"),
        (b"<rss version='2.0'><channel><title>cut off", "malformed RSS 2.0 feed"),
    ],
)
def test_what_is_not_a_feed_is_a_clear_error(data: bytes, reason: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_feed(data, url="https://news.example/rss")
    assert caught.value.source == "https://news.example/rss"
    assert reason in caught.value.reason


def test_an_empty_but_valid_feed_is_not_an_error() -> None:
    feed = parse_feed(b"<rss version='2.0'><channel><title>T</title></channel></rss>", url="u")
    assert feed.entries == ()


def test_a_url_like_body_is_parsed_never_fetched() -> None:
    with pytest.raises(BadInputError):
        parse_feed(b"https://news.example/other-feed.xml", url="https://news.example/rss")


# -- feed state ----------------------------------------------------------------------------


def test_feeds_add_list_remove(kb: KnowledgeBase, feed_state: str) -> None:
    store = feeds_of(kb)
    feed, new = store.add(" https://news.example/rss ", outlet="News", country="gb")
    assert new and feed.url == "https://news.example/rss" and feed.country == "GB"
    again, new_again = store.add("https://news.example/rss", country="IE")
    assert not new_again and again.id == feed.id and again.outlet == "News"
    assert again.country == "IE"
    assert [f.url for f in store.all()] == ["https://news.example/rss"]
    assert store.due() == store.all()  # a new feed is due at once

    store.remove("https://news.example/rss")
    assert store.all() == []
    with pytest.raises(NotFoundError, match="geobot feeds list"):
        store.remove("https://news.example/rss")


@pytest.mark.parametrize("url", ["ftp://news.example/rss", "news.example/rss", "", "http://"])
def test_only_http_feeds_are_accepted(kb: KnowledgeBase, url: str, feed_state: str) -> None:
    with pytest.raises(BadInputError, match="http"):
        feeds_of(kb).add(url)


def test_bad_country_code(kb: KnowledgeBase, feed_state: str) -> None:
    with pytest.raises(BadInputError, match="two-letter"):
        feeds_of(kb).add("https://news.example/rss", country="GBR")


def record_entries(store: FeedStore, feed_id: int, outcomes: list[EntryOutcome]) -> None:
    """A poll that went through and marked `outcomes`."""
    store.record_success(
        feed_id,
        etag=None,
        last_modified=None,
        title=None,
        interval=timedelta(minutes=30),
        outcomes=outcomes,
    )


def test_entries_are_new_taken_retried_after_a_wait_or_given_up(
    kb: KnowledgeBase, feed_state: str
) -> None:
    now = datetime(2025, 3, 10, 12, 0)
    store = feeds_of(kb, clock=lambda: now)
    feed, _ = store.add("https://news.example/rss")
    record_entries(
        store,
        feed.id,
        [EntryOutcome("a", "https://x/a", None, None), EntryOutcome("b", None, None, "boom")],
    )
    states = store.entry_states(feed.id, ["a", "b", "c"], max_attempts=2)
    assert states == EntryStates(
        new=frozenset({"c"}), retry_waiting=frozenset({"b"}), taken=frozenset({"a"})
    )
    now += timedelta(minutes=30)  # one interval after the first failure: due
    assert store.entry_states(feed.id, ["b"], max_attempts=2).retry_due == ("b",)
    record_entries(store, feed.id, [EntryOutcome("b", None, None, "boom")])
    states = store.entry_states(feed.id, ["a", "b", "c"], max_attempts=2)
    assert states.given_up == {"b"} and states.retry_due == ()
    listed = store.all()[0]
    assert (listed.entries_ingested, listed.entries_failed) == (1, 1)


def test_retries_wait_twice_as_long_after_each_failure_and_the_longest_waiting_go_first(
    kb: KnowledgeBase, feed_state: str
) -> None:
    start = datetime(2025, 3, 10, 12, 0)
    now = start
    store = feeds_of(kb, clock=lambda: now)
    feed, _ = store.add("https://news.example/rss")
    record_entries(store, feed.id, [EntryOutcome("late", None, None, "boom")])
    for minutes in (0, 30, 90):  # failures of "early" at 0, 30 and 90 min
        now = start + timedelta(minutes=minutes)
        assert "early" not in store.entry_states(feed.id, ["early"], max_attempts=9).retry_waiting
        record_entries(store, feed.id, [EntryOutcome("early", None, None, "boom")])
    now = start + timedelta(minutes=90 + 119)
    assert store.entry_states(feed.id, ["early"], max_attempts=9).retry_waiting == {"early"}
    now = start + timedelta(minutes=90 + 120)  # 30, 60, then 120 minutes
    assert store.entry_states(feed.id, ["early", "late"], max_attempts=9).retry_due == (
        "late",  # due since 30 min
        "early",  # due since 210 min
    )


def test_a_feed_store_of_the_old_schema_is_migrated_in_place(tmp_path: Path) -> None:
    from index.storage.sqlite_store import SQLiteStore

    path = tmp_path / "old.sqlite3"
    old = SQLiteStore(path)
    # The feed tables as the first geobot with feeds made them, with three entries.
    old.ensure_schema(
        """
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE, outlet TEXT, country TEXT,
    title TEXT, etag TEXT, last_modified TEXT, added_at TEXT NOT NULL, last_polled_at TEXT,
    last_success_at TEXT, last_error TEXT, failures INTEGER NOT NULL DEFAULT 0,
    next_poll_at TEXT
);
CREATE TABLE feed_entries (
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    entry_key TEXT NOT NULL,
    link TEXT,
    article_id INTEGER REFERENCES articles(id) ON DELETE SET NULL,
    status TEXT NOT NULL CHECK (status IN ('ingested', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
);
INSERT INTO feeds(url, outlet, etag, added_at) VALUES
    ('https://news.example/rss', 'News', '"v1"', '2025-03-01 10:00:00');
INSERT INTO feed_entries(feed_id, entry_key, link, status, attempts, error, seen_at) VALUES
    (1, 'taken', 'https://news.example/a', 'ingested', 1, NULL, '2025-03-01 10:00:00'),
    (1, 'failed-once', 'https://news.example/b', 'failed', 1, 'HTTP 503', '2025-03-01 10:00:00'),
    (1, 'given-up', 'https://news.example/c', 'failed', 3, 'HTTP 404', '2025-03-01 10:00:00');
"""
    )
    old.close()

    reopened = SQLiteStore(path)
    try:
        now = datetime(2025, 3, 10, 12, 0)
        store = FeedStore(reopened, clock=lambda: now)
        FeedStore(reopened)  # a second open finds nothing left to do
        columns = [row[1] for row in reopened.read().execute("PRAGMA table_info(feed_entries)")]
        assert columns[-1] == "next_attempt_at"
        (feed,) = store.all()
        assert (feed.outlet, feed.etag, feed.entries_ingested, feed.entries_failed) == (
            "News",
            '"v1"',
            1,
            2,
        )
        states = store.entry_states(feed.id, ["taken", "failed-once", "given-up"], max_attempts=3)
        # A failure from before the migration has no wait recorded: it is due at once.
        assert states == EntryStates(
            retry_due=("failed-once",), given_up=frozenset({"given-up"}), taken=frozenset({"taken"})
        )
        record_entries(store, feed.id, [EntryOutcome("failed-once", None, None, "HTTP 503")])
        row = (
            reopened.read()
            .execute(
                "SELECT attempts, error, next_attempt_at FROM feed_entries WHERE entry_key=?",
                ("failed-once",),
            )
            .fetchone()
        )
        # The second failure: the wait is two intervals.
        assert tuple(row) == (2, "HTTP 503", "2025-03-10 13:00:00")
    finally:
        reopened.close()


def test_backoff_doubles_and_is_capped(kb: KnowledgeBase, feed_state: str) -> None:
    store = feeds_of(kb)
    feed, _ = store.add("https://news.example/rss")
    waits = [
        store.record_failure(
            feed.id, "down", interval=timedelta(minutes=30), max_backoff=timedelta(hours=3)
        )
        for _ in range(4)
    ]
    assert waits == [
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=3),
        timedelta(hours=3),
    ]


def test_feed_state_does_not_disturb_the_vector_index(kb: KnowledgeBase) -> None:
    generation = kb.store.state_database.generation
    store = feeds_of(kb)
    feed, _ = store.add("https://news.example/rss")
    record_entries(store, feed.id, [EntryOutcome("a", None, None, None)])
    assert kb.store.state_database.generation == generation


def test_feed_state_survives_reopening(
    config: Config, fake_embedder: object, feed_state: str
) -> None:
    from index import Embedder

    assert isinstance(fake_embedder, Embedder)
    with KnowledgeBase.open(config, fake_embedder) as kb:
        feeds_of(kb).add("https://news.example/rss", outlet="News")
    with KnowledgeBase.open(config, fake_embedder) as kb:
        assert [f.outlet for f in feeds_of(kb).all()] == ["News"]


# -- outlets -------------------------------------------------------------------------------


def article(
    url: str | None = None, outlet: str | None = None, country: str | None = None
) -> ParsedArticle:
    return ParsedArticle(
        title="T", text="Body.", source="s", url=url, outlet=outlet, country=country
    )


def test_domain_of() -> None:
    assert domain_of("https://www.Reuters.com:443/world/x") == "reuters.com"
    assert domain_of("not a url") is None
    assert domain_of(None) is None


def test_outlet_table_fills_gaps_by_domain_subdomain_or_name() -> None:
    table = OutletTable({"harbour.example": OutletInfo(name="Harbour Wire", country="ie")})

    by_domain = table.complete(article("https://www.reuters.com/world/a"))
    by_subdomain = table.complete(article("https://edition.cnn.com/2025/a"))
    by_config = table.complete(article("https://news.harbour.example/a"))
    by_name = table.complete(article(None, outlet="reuters"))

    assert (by_domain.outlet, by_domain.country) == ("Reuters", "GB")
    assert (by_subdomain.outlet, by_subdomain.country) == ("CNN", "US")
    assert (by_config.outlet, by_config.country) == ("Harbour Wire", "IE")
    assert (by_name.outlet, by_name.country) == ("reuters", "GB")


def test_outlet_table_never_overrides_what_the_article_says() -> None:
    table = OutletTable()
    stated = article("https://www.reuters.com/a", outlet="Reuters", country="US")
    other = article("https://www.reuters.com/a", outlet="Some Blog")
    unknown = article("https://unknown.example/a")

    assert table.complete(stated) == stated
    # Another outlet on a known domain (syndication): its name stays, no country guessed.
    assert (table.complete(other).outlet, table.complete(other).country) == ("Some Blog", None)
    assert table.complete(unknown) == unknown


def test_config_overrides_the_builtin_entry() -> None:
    table = OutletTable({"www.reuters.com": OutletInfo(name="Reuters", country="US")})
    assert table.complete(article("https://reuters.com/a")).country == "US"


def test_ingest_applies_the_outlet_table(kb: KnowledgeBase) -> None:
    kb.ingest_articles(
        [
            ParsedArticle(
                title="Talks",
                text="Negotiators met again.",
                source="mem",
                url="https://www.theguardian.com/world/talks",
            )
        ]
    )
    (stored,) = kb.list_articles()
    assert (stored.outlet, stored.country) == ("The Guardian", "GB")


def test_search_by_country(kb: KnowledgeBase) -> None:
    kb.ingest_articles(
        [
            ParsedArticle(
                title="A", text="Ceasefire talks resumed.", source="a", url="https://bbc.co.uk/a"
            ),
            ParsedArticle(
                title="B", text="Ceasefire talks stalled.", source="b", url="https://cnn.com/b"
            ),
        ]
    )
    hits = kb.search("ceasefire talks", k=5, country="us")
    assert [h.article.title for h in hits] == ["B"]
    assert kb.search("ceasefire talks", k=5, mode="keyword", country="GB")[0].article.title == "A"


def test_invalid_outlet_country_in_config_is_an_error() -> None:
    from index import ConfigError
    from index.config import load_config

    with pytest.raises(ConfigError, match="outlets"):
        load_config(environ={"GEOBOT_OUTLETS": '{"x.example": {"name": "X", "country": "XYZ"}}'})


def test_config_example_is_valid_and_documents_every_setting() -> None:
    import tomllib

    from bot.config import BotConfig
    from index.config import load_config

    example = Path(__file__).parent.parent / "config.example.toml"
    load_config(example, environ={}, schema=BotConfig)
    text = example.read_text(encoding="utf-8")
    sections = tomllib.loads(text)
    for name in BotConfig.model_fields:
        section = getattr(BotConfig(), name)
        if not hasattr(type(section), "model_fields"):
            assert f"{name} " in text or f"[{name}." in text or f'[{name}."' in text, name
            continue
        assert name in sections, f"[{name}] missing from config.example.toml"
        for key in type(section).model_fields:
            # A commented-out line documents a setting without a default value.
            assert key in sections[name] or f"# {key} = " in text, f"{name}.{key} undocumented"
