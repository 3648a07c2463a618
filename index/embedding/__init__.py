"""Embedding: the interface the knowledge base needs and the models behind it.

- ``embedder``: the :class:`~index.embedding.embedder.Embedder` protocol;
- ``sentence_transformer``: any sentence-transformers model (documents by torch, the single
  query by torch or ONNX as ``[embedding] query_backend`` chooses), and ``LazyEmbedder``,
  the same model loaded on first use;
- ``onnx_encoder``: that model exported to ONNX and run by onnxruntime, with its on-disk
  export cache in ``onnx_cache``.

This layer imports only the base modules (``index.config``, ``index.errors``), never the
layers above it. Nothing is re-exported here: the public names are in ``index``.
"""
