"""The web: articles and news feeds fetched over HTTP and ingested.

- ``fetch``: the polite HTTP client (per-host spacing, size caps, checked redirects);
- ``feeds``: RSS and Atom documents into entries; ``feed_store``: the feeds and the
  entries already taken, in the knowledge base's SQLite file or any ``FeedDatabase``
  (``feed_database``) a caller passes;
- ``polling``: fetching article pages by URL and polling the feeds, into the knowledge
  base; ``poll_schedule``: when the feeds are polled, pass after pass.

The top layer: it uses the knowledge base and the layers below; nothing in ``index`` but
this package imports it.
"""
