"""Tests of HTML article extraction (index/sources/html.py) and of HTML files in parse_file."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from test_parsing import assert_clean as assert_clean_text
from test_parsing import paragraphs

from index.errors import BadInputError
from index.models import ParsedArticle
from index.sources.files import SUPPORTED_SUFFIXES, iter_input_paths, parse_file
from index.sources.html import extract_html, looks_like_html

PAGES = Path(__file__).resolve().parent / "data" / "html"
JSONLD = PAGES / "jsonld_newsarticle.html"
OG_TIME = PAGES / "og_published_time.html"
TIME_BYLINE = PAGES / "time_in_byline.html"
CP1252 = PAGES / "cp1252_charset.html"
NO_DATE = PAGES / "no_date.html"
MICRODATA = PAGES / "microdata_rich_body.html"
NO_ARTICLE = PAGES / "no_article.html"
ARTICLE_PAGES = [JSONLD, OG_TIME, TIME_BYLINE, CP1252, NO_DATE, MICRODATA]

# Page chrome of the fixtures: none of it may reach an article's text.
CHROME = [
    "cookie",
    "Cookie",
    "Accept all",
    "Skip to main content",
    "Related stories",
    "newsletter",
    "Newsletter",
    "Sign up",
    "Subscribe",
    "Share on",
    "Share via",
    "Copy link",
    "WhatsApp",
    "Tweet",
    "Facebook",
    "Advertisement",
    "Most read",
    "Read more",
    "Privacy",
    "All rights reserved",
    "©",
    "Topics:",
    "min read",
    "Romania asks allies for more minehunters",
    "Philippine boat hit by water cannon",
    "What Russia's mercenaries are doing in Mali",
    "Can Brazil sell a global tax on billionaires?",
    "Russia reopens Soviet Arctic bases",
    "Archbishop's march reaches Yerevan",
]


def extract(path: Path, url: str | None = None) -> ParsedArticle:
    return extract_html(path.read_bytes(), source=str(path), url=url)


def assert_clean(article: ParsedArticle) -> None:
    """The text conventions of every format, and no headline repeated as the body's start."""
    text = article.text
    assert_clean_text(text)
    assert not text.casefold().startswith(article.title.casefold())
    assert "\ufffd" not in text


# --------------------------------------------------------------------------------------
# The fixture pages
# --------------------------------------------------------------------------------------


def test_json_ld_news_article() -> None:
    # The given URL carries tracking parameters; the page's canonical URL wins.
    article = extract(JSONLD, url="https://meridianledger.com/x?utm_source=feed&utm_medium=rss")

    assert article.title == "EU ministers back civilian mission to monitor Black Sea shipping lanes"
    assert article.author == "Katarina Novak"
    assert article.outlet == "The Meridian Ledger"
    assert article.url == (
        "https://www.meridianledger.com/world/europe/eu-black-sea-monitoring-mission"
    )
    # datePublished 09:30 at +01:00, in UTC; not the article:modified_time of 15 March.
    assert article.published == datetime(2024, 3, 14, 8, 30)
    assert article.published.tzinfo is None
    assert article.language == "en-GB"
    assert article.source == str(JSONLD)
    assert article.country is None

    body = paragraphs(article.text)
    assert len(body) == 9
    assert body[0] == (
        "European Union foreign ministers on Thursday agreed to send a civilian mission of "
        "unarmed observers to the Black Sea ports of Constanța and Varna, in an effort to "
        "reassure shipping insurers that grain and fertiliser cargoes can leave the region "
        "without being caught up in the war between Russia and Ukraine."
    )
    assert "Divisions over the mandate" in body
    assert body[-1].startswith("Ministers will review the mission's first report")
    assert body[-1].endswith("rather than by individual governments.")
    assert_clean(article)


def test_published_time_from_article_meta_tag() -> None:
    article = extract(OG_TIME)

    assert article.title == (
        "ASEAN envoys inch toward South China Sea code of conduct as Manila voices doubts"
    )
    assert article.author == "Daniel Okafor"
    assert article.outlet == "Northbound Wire"
    assert (
        article.url == "https://northboundwire.com/asia-pacific/asean-code-of-conduct-talks-jakarta"
    )
    assert article.published == datetime(2023, 11, 2, 18, 45)
    assert article.language == "en"

    body = paragraphs(article.text)
    assert len(body) == 7
    assert body[0].startswith("Diplomats from Southeast Asia and China closed a third reading")
    assert body[-1] == (
        "Envoys agreed to meet again in Manila in the first quarter of next year. The "
        "Philippines takes over the rotating chair of ASEAN in 2026, a year diplomats say "
        "could prove decisive for whether the code is ever signed."
    )
    assert "Daniel Okafor, Jakarta" not in article.text
    assert "Yen slides past 150" not in article.text
    assert_clean(article)


def test_time_element_in_the_byline_gives_date_and_time() -> None:
    article = extract(TIME_BYLINE)

    assert article.title == "Sahel juntas confirm exit from ECOWAS, deepening split in West Africa"
    assert article.author == "Aminata Diallo"
    # No site name in the page's metadata: the domain is not an outlet name.
    assert article.outlet is None
    assert article.url == "https://www.atlasdaily.com/africa/sahel-juntas-confirm-ecowas-exit"
    # <time datetime="2024-01-22T07:15:00-05:00">, in UTC.
    assert article.published == datetime(2024, 1, 22, 12, 15)
    assert article.language is None

    body = paragraphs(article.text)
    assert len(body) == 7
    assert body[0].startswith(
        "The military governments of Mali, Burkina Faso and Niger said on Monday"
    )
    assert body[-1].endswith("until the legal consequences of the withdrawal had been examined.")
    assert "By Aminata Diallo" not in article.text
    assert "January 22, 2024" not in article.text
    assert_clean(article)


def test_declared_windows_1252_charset_is_honoured() -> None:
    data = CP1252.read_bytes()
    # The fixture really is windows-1252: "ã" and the curly apostrophe as single bytes.
    assert b"S\xe3o Paulo" in data
    assert b"Zelenskyy\x92s" in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    article = extract(CP1252)

    assert article.title == "Lula presses G20 partners on hunger pact as Ukraine talks stall"
    assert article.author == "João Ferreira"
    assert article.outlet == "Hemisphere Review"
    assert article.url == "https://www.hemispherereview.com/americas/g20-sao-paulo-hunger-pact"
    assert article.published == datetime(2024, 2, 28, 19, 40)  # 16:40 at -03:00

    body = paragraphs(article.text)
    assert len(body) == 7
    assert body[0].startswith(
        "Brazilian President Luiz Inácio Lula da Silva urged the world’s largest economies"
    )
    assert "G20 finance ministers’ meeting in São Paulo" in body[0]
    assert "President Volodymyr Zelenskyy’s peace formula" in article.text
    assert "“A world in which 735 million people go to bed hungry" in article.text
    assert body[-1].endswith("pledges of at least €2 billion from donors and development banks.")
    assert_clean(article)


def test_undeclared_legacy_encoding_is_read_as_windows_1252() -> None:
    data = CP1252.read_bytes().replace(b'<meta charset="windows-1252">\n', b"")
    assert b"charset" not in data

    article = extract_html(data, source="undeclared.html")

    assert "Zelenskyy’s peace formula" in article.text
    assert article.author == "João Ferreira"


def test_page_without_a_date_has_none() -> None:
    data = NO_DATE.read_bytes()
    # A copyright line and a copyrightYear tag are in the page, and are not dates.
    assert "© 2019–2024".encode() in data
    assert b'itemprop="copyrightYear"' in data

    article = extract(NO_DATE)

    assert article.published is None
    assert article.title == "Why the Northern Sea Route still disappoints Moscow"
    assert article.author == "Ingrid Solberg"
    assert article.outlet == "Polar Monitor"
    assert article.url == "https://polarmonitor.org/analysis/northern-sea-route-traffic"
    body = paragraphs(article.text)
    assert len(body) == 7
    assert body[0].startswith("For more than a decade the Kremlin has promised")
    assert body[-1].endswith(
        "the Arctic's importance to Russia lies less in commerce than in security."
    )
    assert "Analysis by" not in article.text
    assert "Nordic Institute" not in article.text
    assert_clean(article)


def test_lists_headings_and_quotes_become_paragraphs_and_inline_promos_go() -> None:
    article = extract(MICRODATA)

    assert article.title == (
        "Armenia hands four border villages to Azerbaijan as protests grow in Yerevan"
    )
    assert article.author == "Levon Hakobyan"
    assert article.outlet == "Caucasus Current"
    # Microdata datePublished 11:02 at +04:00; the dateModified of the next day is ignored.
    assert article.published == datetime(2024, 5, 6, 7, 2)

    body = paragraphs(article.text)
    assert len(body) == 11
    assert body[0].startswith("Armenia began handing over four abandoned villages")
    assert body[2:6] == [
        "What the agreement covers",
        "About 12 kilometres of border in the Tavush region are being marked out.",
        "Four uninhabited villages that were part of Soviet Azerbaijan are returned.",
        "Both sides use Soviet-era maps from the 1970s as the legal basis.",
    ]
    assert (
        '"We are not giving away Armenian land. We are drawing the line that protects the '
        'Armenian land we have," Pashinyan told parliament last week.'
    ) in body
    assert body[-1].endswith("push Moscow out of the South Caucasus.")
    assert "One year after the Karabakh exodus" not in article.text
    assert "Photo: Caucasus Current" not in article.text
    assert_clean(article)


@pytest.mark.parametrize("path", ARTICLE_PAGES, ids=lambda path: path.stem)
def test_no_page_chrome_in_the_text(path: Path) -> None:
    article = extract(path)
    for chrome in CHROME:
        assert chrome not in article.text, f"{chrome!r} left in the text of {path.name}"
    assert paragraphs(article.text)[0] != article.title
    assert article.title not in paragraphs(article.text)


def test_page_with_chrome_but_no_article_is_an_error() -> None:
    with pytest.raises(BadInputError) as caught:
        extract(NO_ARTICLE)
    assert caught.value.source == str(NO_ARTICLE)
    assert caught.value.reason == "no article text found in the page"
    assert str(caught.value) == f"{NO_ARTICLE}: no article text found in the page"


def test_empty_html_document_has_no_article_text() -> None:
    page = "<!DOCTYPE html><html><head><title>Nothing here</title></head><body></body></html>"
    with pytest.raises(BadInputError) as caught:
        extract_html(page, source="blank.html")
    assert caught.value.reason == "no article text found in the page"


# --------------------------------------------------------------------------------------
# URLs and dates from the address
# --------------------------------------------------------------------------------------

NO_DATE_CANONICAL = (
    b'<link rel="canonical" href="https://polarmonitor.org/analysis/northern-sea-route-traffic">\n'
)


def test_given_url_is_used_when_the_page_names_none() -> None:
    data = NO_DATE.read_bytes().replace(NO_DATE_CANONICAL, b"")
    url = "https://polarmonitor.org/analysis/northern-sea-route-traffic?ref=homepage"

    article = extract_html(data, source=url, url=url)

    assert article.url is not None
    assert article.url.startswith("https://polarmonitor.org/analysis/northern-sea-route-traffic")
    assert article.source == url
    assert article.published is None


def test_date_in_the_url_when_the_page_has_none() -> None:
    data = NO_DATE.read_bytes().replace(NO_DATE_CANONICAL, b"")
    url = "https://polarmonitor.org/2023/09/14/northern-sea-route-traffic"

    article = extract_html(data, source=url, url=url)

    assert article.published == datetime(2023, 9, 14)


def test_time_element_refines_a_date_read_from_the_url() -> None:
    data = TIME_BYLINE.read_bytes().replace(
        b"https://www.atlasdaily.com/africa/sahel-juntas-confirm-ecowas-exit",
        b"https://www.atlasdaily.com/africa/2024/01/22/sahel-juntas-confirm-ecowas-exit",
    )

    article = extract_html(data, source="atlas.html")

    assert (
        article.url
        == "https://www.atlasdaily.com/africa/2024/01/22/sahel-juntas-confirm-ecowas-exit"
    )
    assert article.published == datetime(2024, 1, 22, 12, 15)


def test_domain_named_sitename_is_not_an_outlet() -> None:
    page = (
        "<html><head><title>Talks resume | example-news.org</title>"
        '<link rel="canonical" href="https://www.example-news.org/world/talks"></head>'
        "<body><article><h1>Talks resume</h1><p>Negotiators from both governments met again "
        "on Tuesday in Geneva and agreed to continue the ceasefire talks next month, officials "
        "said after the meeting.</p></article></body></html>"
    )
    article = extract_html(page, source="talks.html")
    assert article.outlet is None
    assert article.url == "https://www.example-news.org/world/talks"


# --------------------------------------------------------------------------------------
# Inputs, decoding and errors
# --------------------------------------------------------------------------------------


def test_str_and_bytes_give_the_same_article_every_time() -> None:
    data = JSONLD.read_bytes()
    first = extract_html(data, source="a")
    assert extract_html(data.decode("utf-8"), source="a") == first
    assert extract_html(data, source="a") == first


def test_byte_order_marks_are_honoured() -> None:
    page = JSONLD.read_text(encoding="utf-8")
    utf8 = extract_html(page, source="a")
    assert extract_html(b"\xef\xbb\xbf" + page.encode("utf-8"), source="a") == utf8
    assert extract_html(page.encode("utf-16"), source="a") == utf8


def test_html_fragment_is_accepted() -> None:
    fragment = (
        "<h1>Ceasefire holds in Gaza for a third day</h1>"
        "<p>A fragile ceasefire between Israel and Hamas held for a third day on Sunday as "
        "aid lorries entered the territory through the Rafah crossing.</p>"
        "<p>Mediators from Egypt and Qatar said talks on a longer truce would continue.</p>"
    )
    article = extract_html(fragment, source="fragment.html")
    assert article.title == "Ceasefire holds in Gaza for a third day"
    assert paragraphs(article.text) == [
        "A fragile ceasefire between Israel and Hamas held for a third day on Sunday as aid "
        "lorries entered the territory through the Rafah crossing.",
        "Mediators from Egypt and Qatar said talks on a longer truce would continue.",
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            json.dumps({"title": "Talks", "text": "<p>Body</p>"}).encode(),
            "not an HTML page (it looks like JSON)",
        ),
        (b'[{"url": "https://example.org/"}]', "not an HTML page (it looks like JSON)"),
        (
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>",
            "not an HTML page (it is a PDF document)",
        ),
        (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            b"<title>World</title></channel></rss>",
            "not an HTML page (it is an RSS or Atom feed)",
        ),
        (b"Plain text, not a page.", "not an HTML page (it does not start with markup)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data (contains NUL bytes), not HTML"),
        (b"", "empty document"),
        (b" \n\t ", "empty document"),
    ],
)
def test_inputs_that_are_not_html_pages(data: bytes, reason: str) -> None:
    with pytest.raises(BadInputError) as caught:
        extract_html(data, source="https://example.org/page")
    assert caught.value.source == "https://example.org/page"
    assert caught.value.reason == reason


def test_article_over_the_length_limit() -> None:
    with pytest.raises(BadInputError) as caught:
        extract_html(JSONLD.read_bytes(), source="long.html", max_article_chars=500)
    assert caught.value.reason.startswith("article is ")
    assert caught.value.reason.endswith(
        " characters, over the limit of 500 (ingest.max_article_chars)"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><body><p>x</p></body></html>",
        b"\n\n  <!doctype HTML>\n<title>x</title>",
        b"<html lang='en'><head></head></html>",
        b"\xef\xbb\xbf<!DOCTYPE html><html></html>",
        "<!DOCTYPE html><html></html>".encode("utf-16"),
        b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN">',
        b"<!-- served by nginx -->\n<HTML><HEAD><TITLE>x</TITLE></HEAD></HTML>",
        "<!DOCTYPE html><html><body>São Paulo</body></html>",
    ],
)
def test_looks_like_html(data: bytes | str) -> None:
    assert looks_like_html(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b'{"html": "<html><body></body></html>"}',
        b"%PDF-1.4\n<html>",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>',
        b"Hello <html> world",
        b"<p>A fragment without a document around it</p>",
        b"\x00\x01<html>",
        "Plain text".encode("utf-16"),
    ],
)
def test_does_not_look_like_html(data: bytes | str) -> None:
    assert not looks_like_html(data)


def test_looks_like_html_is_true_for_every_fixture_page() -> None:
    for path in [*ARTICLE_PAGES, NO_ARTICLE]:
        assert looks_like_html(path.read_bytes()), path.name


# --------------------------------------------------------------------------------------
# HTML files through parse_file and iter_input_paths
# --------------------------------------------------------------------------------------


def test_html_suffixes_are_supported() -> None:
    assert {".html", ".htm"} <= SUPPORTED_SUFFIXES


@pytest.mark.parametrize("name", ["story.html", "story.htm", "STORY.HTML"])
def test_parse_file_reads_html_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    shutil.copyfile(CP1252, path)

    result = parse_file(path)

    assert result.failures == ()
    (article,) = result.articles
    assert article == extract_html(CP1252.read_bytes(), source=str(path))
    assert article.source == str(path)
    assert article.title == "Lula presses G20 partners on hunger pact as Ukraine talks stall"
    assert "São Paulo" in article.text
    assert article.published == datetime(2024, 2, 28, 19, 40)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\t\n", "empty file"),
        (b"<html>\x00\x00\x00</html>", "binary file (contains NUL bytes), not text"),
        (
            json.dumps({"title": "Talks", "text": "Negotiators met again."}).encode(),
            "not an HTML page (it looks like JSON)",
        ),
        (NO_ARTICLE.read_bytes(), "no article text found in the page"),
    ],
)
def test_parse_file_html_errors(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(content)
    with pytest.raises(BadInputError) as caught:
        parse_file(path)
    assert caught.value.source == str(path)
    assert caught.value.reason == reason
    assert str(caught.value) == f"{path}: {reason}"


def test_parse_file_html_size_limits(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    shutil.copyfile(JSONLD, path)
    size = path.stat().st_size

    with pytest.raises(BadInputError) as too_big:
        parse_file(path, max_file_bytes=1000)
    assert too_big.value.reason == (
        f"file is {size / 1000:.1f} kB, over the 1.0 kB limit (ingest.max_file_bytes)"
    )

    with pytest.raises(BadInputError) as too_long:
        parse_file(path, max_article_chars=100)
    assert too_long.value.reason.endswith("over the limit of 100 (ingest.max_article_chars)")


def test_iter_input_paths_finds_html_files(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    for name in ["b.html", "a.htm", "c.txt", "sub/d.HTML", "notes.xhtml", ".hidden.html"]:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<html></html>", encoding="utf-8")

    assert list(iter_input_paths([root])) == [
        root / "a.htm",
        root / "b.html",
        root / "c.txt",
        root / "sub" / "d.HTML",
    ]
