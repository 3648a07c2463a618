"""Passages: article text into sentences (``sentences``) and sentences into passages that fit
the embedding model's window (``chunking``).

This layer imports only the base modules (``index.models``), never the layers above it.
"""
