"""Storage: articles, passages and vectors on disk, and the searches over them.

- ``backend``: the interface the knowledge base uses (:class:`StorageBackend`), and
  ``factory``, which opens the one ``[storage] backend`` names: ``sqlite_backend`` (the
  default, below) or ``milvus_backend`` (Milvus; ``milvus_schema``, ``milvus_client``,
  ``milvus_writes``); ``migration`` copies a library from one to another;
- ``sqlite_store``: the SQLite database, source of truth, with its FTS5 keyword index
  (``schema`` holds its tables; ``keyword_query`` turns free text into FTS5 queries, with
  the ``stopwords`` it leaves out);
- ``faiss_index``: the FAISS vector index, a rebuildable cache of the stored vectors, and
  ``vector_sync``, which loads it when it matches the database or rebuilds it.

This layer imports only the base modules (``index.config``, ``index.errors``,
``index.models``), never the layers above it.
"""
