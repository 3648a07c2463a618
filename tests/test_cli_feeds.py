"""`geobot feeds ...`, `geobot ingest URL` and the country filters, against a real local
HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from local_http import LOCAL_HOSTS, LocalHTTPServer
from test_cli import run
from test_polling import DATE, _item, _rss, feed_text, serve_pages

ENV = {
    "GEOBOT_FETCH__HOST_INTERVAL_SECONDS": "0",
    "GEOBOT_FETCH__TIMEOUT_SECONDS": "2",
    # A JSON list, as an operator would write it: the local servers are loopback.
    "GEOBOT_FETCH__ALLOWED_HOSTS": json.dumps(LOCAL_HOSTS),
}


@pytest.fixture
def state_env(feed_state: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The CLI's environment on the test's feed-state engine: feeds in the library's
    file, or in the PostgreSQL state database (`[state] backend = "postgres"`)."""
    if feed_state == "sqlite":
        return {}
    url = request.getfixturevalue("postgres_url")
    return {"GEOBOT_STATE__BACKEND": "postgres", "GEOBOT_STATE__URL": url}


def test_feeds_add_list_poll_remove(
    tmp_path: Path, local_http: LocalHTTPServer, state_env: dict[str, str]
) -> None:
    env = {**ENV, **state_env}
    data = tmp_path / "data"
    serve_pages(local_http)
    local_http.add(
        "/rss.xml",
        feed_text("rss20.xml", local_http),
        content_type="application/rss+xml",
        etag='"v1"',
    )
    local_http.status("/down.xml", 503)
    url = local_http.url("/rss.xml")

    added = run(
        "feeds", "add", url, "--outlet", "Harbour Wire", "--country", "gb", data_dir=data, env=env
    )
    assert added.exit_code == 0, added.output
    assert f"added feed {url} (Harbour Wire (GB))" in added.output
    assert run("feeds", "add", local_http.url("/down.xml"), data_dir=data, env=env).exit_code == 0

    polled = run("feeds", "poll", data_dir=data, env=env)
    assert polled.exit_code == 0, polled.output
    assert f"{url} (Harbour Wire): 2 new, 0 unchanged, 0 failed" in polled.output
    assert "down.xml: failed: HTTP 503" in polled.output
    assert "next try in 1 h 0 min" in polled.output
    assert "polled 2 feeds" in polled.output and "2 new articles, 1 failed" in polled.output

    again = run("feeds", "poll", data_dir=data, env=env)
    assert f"{url} (Harbour Wire): not modified since the last poll" in again.output

    listed = run("feeds", "list", data_dir=data, env=state_env)
    assert "Harbour Wire (GB) · 2 articles" in listed.output
    assert "last error (2 in a row): HTTP 503" in listed.output
    as_json = json.loads(run("feeds", "list", "--json", data_dir=data, env=state_env).output)
    assert [f["url"] for f in as_json] == [url, local_http.url("/down.xml")]
    assert as_json[0]["entries_ingested"] == 2

    # Citations carry outlet, country and the entry's date.
    answer = run(
        "ask", "What did the Baltic states agree on air defence?", data_dir=data, env=state_env
    )
    assert "Harbour Wire (GB), 1 Mar 2025" in answer.output, answer.output

    removed = run("feeds", "remove", url, data_dir=data, env=state_env)
    assert "removed feed" in removed.output and "2 articles from it stay" in removed.output
    assert (
        json.loads(run("sources", "--json", data_dir=data, env=state_env).output)[0]["country"]
        == "GB"
    )
    missing = run("feeds", "remove", url, data_dir=data, env=state_env)
    assert missing.exit_code == 1 and "no feed" in missing.output


def test_feeds_poll_reports_retries_given_up_and_empty_items(
    tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    data = tmp_path / "data"
    serve_pages(local_http)
    local_http.status("/broken.html", 500)
    items = "".join(
        [
            _item(
                "Baltic states agree joint air defence plan",
                local_http.url("/world/baltic-air-defence.html"),
                DATE,
            ),
            _item("Broken", local_http.url("/broken.html"), DATE),
            "<item></item>",
        ]
    )
    local_http.add("/rss.xml", _rss(local_http, items), content_type="application/rss+xml")
    url = local_http.url("/rss.xml")
    assert run("feeds", "add", url, data_dir=data, env=ENV).exit_code == 0

    first = run("feeds", "poll", data_dir=data, env=ENV)
    assert f"{url}: 1 new, 0 unchanged, 1 failed, 1 empty item skipped\n" in first.output
    assert f"failed: {local_http.url('/broken.html')}: the page failed (HTTP 500" in first.output

    # Polled again at once: the failed entry waits (one poll interval) before its next try.
    second = run("feeds", "poll", data_dir=data, env=ENV)
    assert (
        f"{url}: 0 new, 1 unchanged, 0 failed, 1 waiting to be retried, 1 empty item skipped\n"
        in second.output
    )
    as_json = json.loads(run("feeds", "poll", "--json", data_dir=data, env=ENV).output)
    (report,) = as_json["feeds"]
    assert (report["new"], report["unchanged"], report["retry_later"]) == (0, 1, 1)
    assert (report["given_up"], report["empty"], report["failed"]) == (0, 1, [])

    # With one try allowed, the entry's first failure was its last.
    one_try = {**ENV, "GEOBOT_FEEDS__MAX_ATTEMPTS": "1"}
    given_up = run("feeds", "poll", data_dir=data, env=one_try)
    assert (
        f"{url}: 0 new, 1 unchanged, 0 failed, 1 given up after repeated failures, "
        "1 empty item skipped\n" in given_up.output
    )
    as_json = json.loads(run("feeds", "poll", "--json", data_dir=data, env=one_try).output)
    assert as_json["feeds"][0]["given_up"] == 1 and as_json["feeds"][0]["retry_later"] == 0
    assert len(local_http.requests_to("/broken.html")) == 1


def test_feeds_errors_are_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = run("feeds", "add", "ftp://news.example/rss", data_dir=data)
    assert bad.exit_code == 1 and "http:// or https://" in bad.output
    country = run("feeds", "add", "https://news.example/rss", "--country", "GBR", data_dir=data)
    assert country.exit_code == 2 and "two-letter country code" in country.output
    empty = run("feeds", "poll", data_dir=data)
    assert empty.exit_code == 0 and "No feeds yet" in empty.output


def test_a_poll_where_every_feed_fails_exits_1(tmp_path: Path, local_http: LocalHTTPServer) -> None:
    data = tmp_path / "data"
    local_http.status("/down.xml", 500)
    run("feeds", "add", local_http.url("/down.xml"), data_dir=data, env=ENV)
    result = run("feeds", "poll", "--json", data_dir=data, env=ENV)
    assert result.exit_code == 1
    assert json.loads(result.output)["feeds"][0]["error"] == "HTTP 500 Internal Server Error"


def test_ingest_urls_and_files_together(tmp_path: Path, local_http: LocalHTTPServer) -> None:
    data = tmp_path / "data"
    serve_pages(local_http, site="Meridian Post")
    local_http.status("/missing.html", 404)
    note = tmp_path / "note.md"
    note.write_text("---\ntitle: A note\npublished: 2025-01-01\n---\nSome text here.\n")

    result = run(
        "ingest",
        local_http.url("/asia/mekong-dam.html"),
        local_http.url("/missing.html"),
        str(note),
        data_dir=data,
        env=ENV,
    )

    assert result.exit_code == 0, result.output
    assert "added 2, updated 0, unchanged 0, failed 1" in result.output
    assert f"failed: {local_http.url('/missing.html')}: HTTP 404" in result.output
    sources = json.loads(run("sources", "--json", data_dir=data).output)
    mekong = next(s for s in sources if s["title"].startswith("Mekong"))
    assert mekong["outlet"] == "Meridian Post"
    assert mekong["published"].startswith("2025-03-05")


def test_search_and_ask_by_country(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = tmp_path / "in"
    folder.mkdir()
    for name, country in (("gb", "GB"), ("us", "US")):
        (folder / f"{name}.md").write_text(
            f"---\ntitle: Talks in {name}\noutlet: Wire {name}\ncountry: {country}\n"
            f"published: 2025-03-0{1 if name == 'gb' else 2}\n---\n"
            f"Negotiators met in {name} for ceasefire talks and agreed on a truce.\n",
            encoding="utf-8",
        )
    assert run("ingest", str(folder), data_dir=data).exit_code == 0

    hits = json.loads(
        run("search", "ceasefire talks", "--country", "us", "--json", data_dir=data).output
    )
    assert [h["country"] for h in hits] == ["US"]
    text = run("search", "ceasefire talks", "--country", "GB", data_dir=data).output
    assert "Wire gb (GB), 2025-03-01" in text and "Wire us" not in text
    answer = json.loads(
        run("ask", "Did they agree on a truce?", "--country", "GB", "--json", data_dir=data).output
    )
    assert {s["country"] for s in answer["sources"]} == {"GB"}
    bad = run("search", "talks", "--country", "Britain", data_dir=data)
    assert bad.exit_code == 2 and "two-letter country code" in bad.output
