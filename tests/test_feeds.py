"""Feed parsing, feed state and the outlet table, without a network."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from index import BadInputError, Config, KnowledgeBase, NotFoundError, ParsedArticle
from index.config import OutletInfo
from index.sources.outlets import OutletTable, domain_of
from index.web.feed_store import EntryOutcome, FeedStore
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


def test_feeds_add_list_remove(kb: KnowledgeBase) -> None:
    store = FeedStore(kb.store)
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
def test_only_http_feeds_are_accepted(kb: KnowledgeBase, url: str) -> None:
    with pytest.raises(BadInputError, match="http"):
        FeedStore(kb.store).add(url)


def test_bad_country_code(kb: KnowledgeBase) -> None:
    with pytest.raises(BadInputError, match="two-letter"):
        FeedStore(kb.store).add("https://news.example/rss", country="GBR")


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


def test_entries_are_pending_until_taken_or_failed_too_often(kb: KnowledgeBase) -> None:
    store = FeedStore(kb.store)
    feed, _ = store.add("https://news.example/rss")
    record_entries(
        store,
        feed.id,
        [EntryOutcome("a", "https://x/a", None, None), EntryOutcome("b", None, None, "boom")],
    )
    assert store.pending_keys(feed.id, ["a", "b", "c"], max_attempts=2) == {"b", "c"}
    record_entries(store, feed.id, [EntryOutcome("b", None, None, "boom")])
    assert store.pending_keys(feed.id, ["a", "b", "c"], max_attempts=2) == {"c"}
    listed = store.all()[0]
    assert (listed.entries_ingested, listed.entries_failed) == (1, 1)


def test_backoff_doubles_and_is_capped(kb: KnowledgeBase) -> None:
    store = FeedStore(kb.store)
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
    generation = kb.store.generation
    store = FeedStore(kb.store)
    feed, _ = store.add("https://news.example/rss")
    record_entries(store, feed.id, [EntryOutcome("a", None, None, None)])
    assert kb.store.generation == generation


def test_feed_state_survives_reopening(config: Config, fake_embedder: object) -> None:
    from index import Embedder

    assert isinstance(fake_embedder, Embedder)
    with KnowledgeBase.open(config, fake_embedder) as kb:
        FeedStore(kb.store).add("https://news.example/rss", outlet="News")
    with KnowledgeBase.open(config, fake_embedder) as kb:
        assert [f.outlet for f in FeedStore(kb.store).all()] == ["News"]


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
