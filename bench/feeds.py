"""A feed poll against local HTTP servers, against ingesting the same articles from files.

    .venv/bin/python bench/feeds.py [--feeds 20] [--entries 50] [--host-interval 1.0]

Takes feeds × entries articles of the RealTimeQA dev corpus, renders each as an HTML
article page (site chrome, Open Graph site name, published time) and serves them from
`--feeds` local HTTP servers, one per loopback address (127.0.0.2, 127.0.0.3, ...), so
that every feed is its own host and the fetcher's per-host politeness applies as it
would on the web. Each server also serves an RSS 2.0 feed of its entries.

Then, with the model loaded once:
1. ingests the very same HTML pages from files into an empty store (`KnowledgeBase.ingest`);
2. polls the feeds into another empty store (`FeedPoller.poll`: fetch feeds, fetch and
   extract pages, ingest);
and prints for each: seconds, articles/s, passages/s, and the share of the time spent
embedding (the floor). Target: the poll reaches at least 0.8 of the file throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import tempfile
import threading
import time
from collections.abc import Sequence
from email.utils import format_datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _common import DEV_DIR, require_dev_dir

from bot.evaluation.realtimeqa import load_dataset
from index import Config, KnowledgeBase
from index.config import EmbeddingConfig, FetchConfig
from index.embedding.sentence_transformer import SentenceTransformerEmbedder
from index.models import ParsedArticle
from index.web.feed_store import FeedStore
from index.web.fetch import Fetcher
from index.web.polling import FeedPoller

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | {site}</title>
<meta property="og:site_name" content="{site}">
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="{published}">
<link rel="canonical" href="{url}"></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a>
<a href="/subscribe">Subscribe</a></nav></header>
<main><article><h1>{title}</h1>
{paragraphs}
</article><aside><h2>Related stories</h2><ul><li><a href="/r1">Markets today</a></li>
</ul></aside></main><footer>© {site}. All rights reserved.</footer></body></html>
"""


class TimedEmbedder:
    """Delegates to the real embedder and adds up the time spent embedding documents."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.passages = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_documents(self, texts: Sequence[str]) -> Any:
        started = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - started
            self.passages += len(texts)

    def reset(self) -> None:
        self.seconds = 0.0
        self.passages = 0


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def render(article: ParsedArticle, url: str, site: str) -> str:
    paragraphs = "\n".join(
        f"<p>{html.escape(p.strip())}</p>" for p in article.text.split("\n\n") if p.strip()
    )
    published = article.published.isoformat() + "+00:00" if article.published else ""
    return PAGE.format(
        title=html.escape(article.title),
        site=html.escape(site),
        published=published,
        url=html.escape(url),
        paragraphs=paragraphs,
    )


def rss(site: str, base: str, items: list[tuple[ParsedArticle, str]]) -> str:
    entries = []
    for article, url in items:
        date = format_datetime(article.published) if article.published else ""
        entries.append(
            f"<item><title>{html.escape(article.title)}</title><link>{url}</link>"
            f"<guid>{url}</guid><pubDate>{date}</pubDate></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{html.escape(site)}</title><link>{base}/</link>{''.join(entries)}"
        "</channel></rss>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--host-interval", type=float, default=1.0)
    parser.add_argument("--data", type=Path, default=DEV_DIR)
    args = parser.parse_args()

    dataset = load_dataset(require_dev_dir(args.data))
    wanted = args.feeds * args.entries
    articles = [a for a in dataset.articles if a.published is not None][:wanted]
    if len(articles) < wanted:
        raise SystemExit(f"only {len(articles)} dated articles in {args.data}")
    embedder = TimedEmbedder(SentenceTransformerEmbedder(EmbeddingConfig(query_backend="torch")))
    embedder.embed_documents(["warm up the model"] * 8)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        servers: list[ThreadingHTTPServer] = []
        for n in range(args.feeds):
            folder = root / "sites" / f"site{n}"
            folder.mkdir(parents=True)
            handler = partial(QuietHandler, directory=str(folder))
            server = ThreadingHTTPServer((f"127.0.0.{n + 2}", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            base = f"http://127.0.0.{n + 2}:{server.server_address[1]}"
            site = f"Bench Wire {n}"
            chunk = articles[n * args.entries : (n + 1) * args.entries]
            items = []
            for i, article in enumerate(chunk):
                url = f"{base}/story{i}.html"
                (folder / f"story{i}.html").write_text(render(article, url, site), "utf-8")
                items.append((article, url))
            (folder / "rss.xml").write_text(rss(site, base, items), "utf-8")

        # 1. The same pages from files.
        embedder.reset()
        files_config = Config(data_dir=root / "from-files")
        with KnowledgeBase.open(files_config, embedder) as kb:
            started = time.perf_counter()
            report = kb.ingest([root / "sites"])
            files_seconds = time.perf_counter() - started
            files_articles = report.added
        files_embed, files_passages = embedder.seconds, embedder.passages

        # 2. A poll of the feeds.
        embedder.reset()
        poll_config = Config(
            data_dir=root / "from-feeds",
            # The bench's sites listen on 127.0.0.2, 127.0.0.3...: loopback, refused
            # unless allowed.
            fetch=FetchConfig(
                host_interval_seconds=args.host_interval, allowed_hosts=("127.0.0.0/8",)
            ),
        )
        with KnowledgeBase.open(poll_config, embedder) as kb:
            feeds = FeedStore(kb.store)
            for server in servers:
                host, port = server.server_address[:2]
                feeds.add(f"http://{host!s}:{port}/rss.xml")

            async def poll() -> Any:
                async with Fetcher(poll_config.fetch) as fetcher:
                    return await FeedPoller(kb, feeds, fetcher, poll_config).poll()

            started = time.perf_counter()
            polled = asyncio.run(poll())
            poll_seconds = time.perf_counter() - started
        poll_embed, poll_passages = embedder.seconds, embedder.passages
        for server in servers:
            server.shutdown()

    failed = sum(len(f.failed) + bool(f.error) for f in polled.feeds)
    print(
        f"{args.feeds} feeds × {args.entries} entries, host interval {args.host_interval} s, "
        f"{failed} failed"
    )
    for name, seconds, count, passages, embed in (
        ("files", files_seconds, files_articles, files_passages, files_embed),
        ("poll", poll_seconds, polled.new, poll_passages, poll_embed),
    ):
        print(
            f"{name:6} {count:5} articles {passages:6} passages in {seconds:7.1f} s: "
            f"{count / seconds:6.2f} articles/s, {passages / seconds:6.1f} passages/s, "
            f"embedding {embed / seconds:5.1%} of the time"
        )
    ratio = (polled.new / poll_seconds) / (files_articles / files_seconds)
    print(f"poll throughput / file throughput: {ratio:.3f} (target >= 0.8)")


if __name__ == "__main__":
    main()
