"""Copying a library from one storage backend to another, vectors included (`geobot migrate`).

Nothing is embedded again: the stored vectors travel with their passages. Articles are
written in batches through the target's ordinary write sessions, so the target's
durability promise holds during the copy; an article the target already holds unchanged
is skipped, so an interrupted copy is resumed by running it again. At the end the counts
of both stores are compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from index.errors import GeobotError, StoreError
from index.storage.backend import ExportedArticle, StorageBackend
from index.storage.rows import ArticleRecord, NewPassage

__all__ = ["MigrationReport", "copy_library"]

BATCH_ARTICLES = 64


@dataclass(frozen=True)
class MigrationReport:
    copied: int
    unchanged: int
    articles: int
    passages: int


def copy_library(
    source: StorageBackend,
    target: StorageBackend,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> MigrationReport:
    """Copy every article of `source` (with its passages and vectors) into `target`.

    Raises GeobotError when the target holds vectors of another model, and StoreError when
    the counts differ at the end (another process wrote to either store meanwhile?).
    """
    model, dimension = source.get_meta("model"), source.get_meta("dimension")
    if model is None or dimension is None:
        raise GeobotError("the source library is empty: nothing to migrate")
    target_model = target.get_meta("model")
    if target.article_count() and target_model not in (None, model):
        raise GeobotError(
            f"the target library holds vectors of {target_model}, the source of {model}"
        )
    source.attach_vectors(int(dimension), stored_vectors_usable=True)
    target.set_meta({"model": model, "dimension": dimension})
    target.attach_vectors(int(dimension), stored_vectors_usable=True)
    total = source.article_count()
    copied = unchanged = done = 0
    batch: list[ExportedArticle] = []

    def flush(final: bool) -> None:
        nonlocal copied, unchanged
        with target.writing(final=final) as session:
            found = session.find_articles([e.article.key for e in batch])
            for exported in batch:
                stored = found.get(exported.article.key)
                if stored is not None and (stored.content_hash, stored.metadata_hash) == (
                    exported.content_hash,
                    exported.metadata_hash,
                ):
                    unchanged += 1
                    continue
                session.store_article(
                    _record(exported, stored.id if stored else None), _new(exported)
                )
                copied += 1
        batch.clear()

    for exported in source.export_articles(BATCH_ARTICLES):
        batch.append(exported)
        done += 1
        if len(batch) >= BATCH_ARTICLES:
            flush(final=False)
            if on_progress is not None:
                on_progress(done, total)
    flush(final=True)
    if on_progress is not None:
        on_progress(done, total)
    articles, passages = target.article_count(), target.passage_count()
    expected = (source.article_count(), source.passage_count())
    if (articles, passages) != expected:
        raise StoreError(
            f"count check failed: the source holds {expected[0]} articles and {expected[1]}"
            f" passages, the target {articles} and {passages}"
        )
    return MigrationReport(copied, unchanged, articles, passages)


def _record(exported: ExportedArticle, existing_id: int | None) -> ArticleRecord:
    article = exported.article
    return ArticleRecord(
        existing_id=existing_id,
        key=article.key,
        title=article.title,
        text=article.text,
        url=article.url,
        outlet=article.outlet,
        published=article.published,
        country=article.country,
        language=article.language,
        author=article.author,
        source=article.source,
        content_hash=exported.content_hash,
        metadata_hash=exported.metadata_hash,
    )


def _new(exported: ExportedArticle) -> list[NewPassage]:
    return [
        NewPassage(p.ordinal, p.start, p.end, p.sentences, exported.vectors[n])
        for n, p in enumerate(exported.passages)
    ]
