"""Storage: articles, passages and vectors on disk, and the searches over them.

- ``sqlite_store``: the SQLite database, source of truth, with its FTS5 keyword index
  (``schema`` holds its tables; ``keyword_query`` turns free text into FTS5 queries, with
  the ``stopwords`` it leaves out);
- ``faiss_index``: the FAISS vector index, a rebuildable cache of the stored vectors, and
  ``vector_sync``, which loads it when it matches the database or rebuilds it.

This layer imports only the base modules (``index.config``, ``index.errors``,
``index.models``), never the layers above it.
"""
