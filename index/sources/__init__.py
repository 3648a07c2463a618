"""Sources: turning inputs (files, JSON records, HTML pages) into parsed articles.

One module per input format, over one module of the clean-up rules they share:

- ``files``: finding input files and reading them, dispatching by suffix;
- ``scraped_text``: scraped plain text, front matter and Markdown documents, cleaned of page
  furniture (header, bylines, footer); ``front_matter`` and ``markdown`` read those parts;
- ``json_records``: JSON documents and JSON Lines; ``metadata`` reads the fields that JSON
  records and front matter share;
- ``html``: article pages, by trafilatura; ``sniffing``: what a document is, from its start;
- ``cleanup``: the text clean-up rules every format applies; ``dates``: publication dates;
- ``outlets``: the domain-to-outlet table that fills in an article's outlet and country.
  It lives here, in the lowest layer that uses it (``html`` reads a page's domain with it),
  so the knowledge base (which completes articles with it) and the web (which checks feed
  countries with it) reach it downwards.

This layer imports only the base modules (``index.config``, ``index.errors``,
``index.models``), never the layers above it. Nothing is re-exported here: importing
``index.sources.dates`` must not load trafilatura (``html``), which takes about a second.
"""
