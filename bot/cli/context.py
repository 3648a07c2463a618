"""What a command runs with: the configuration, the knowledge base and the answer
service, each built when first needed (loading the embedding model takes seconds)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from index import NotFoundError

# The knowledge base, its storage and the configuration's models load when a command
# uses them, not when the CLI starts: `geobot --help` and usage errors stay quick.
if TYPE_CHECKING:
    from bot.answers.llm import LLMWriter
    from bot.answers.service import AnswerService
    from bot.config import BotConfig
    from index import Embedder, KnowledgeBase
    from index.storage.backend import StorageBackend

__all__ = ["AppContext", "app_context"]


class AppContext:
    """What a command needs, built lazily: loading the model takes seconds."""

    def __init__(
        self,
        config_path: Path | None,
        data_dir: Path | None,
        *,
        embedder_factory: Callable[[BotConfig], Embedder] | None = None,
    ) -> None:
        self.config_path = config_path
        self.data_dir = data_dir
        # Tests pass a factory of fake embedders; by default the configured model loads
        # lazily, on first use.
        self.embedder_factory = embedder_factory
        self._loading: Embedder | None = None

    @functools.cached_property
    def config(self) -> BotConfig:
        from bot.config import BotConfig
        from index import load_config

        return load_config(self.config_path, data_dir=self.data_dir, schema=BotConfig)

    def embedder(self) -> Embedder:
        if self.embedder_factory is not None:
            return self.embedder_factory(self.config)
        from index.embedding.factory import LazyEmbedder

        return LazyEmbedder(
            self.config.embedding,
            cache_dir=self.config.resolved_data_dir() / "models",
            # The first start exports the model (a minute): say so, on stderr.
            on_progress=lambda message: click.echo(f"geobot: {message}", err=True),
        )

    @contextmanager
    def catalogue(self) -> Iterator[StorageBackend | None]:
        """The library's article store, opened without the embedding model (opening the
        knowledge base of an empty library loads it, to record its dimension); None when
        no library was ever made in the data dir (nothing is created then)."""
        from index.knowledge_base import DB_NAME
        from index.storage.factory import open_backend

        folder = self.config.resolved_data_dir().expanduser()
        storage = self.config.storage
        if storage.backend == "sqlite":
            path = folder / DB_NAME
        elif "://" not in storage.milvus.uri:
            path = folder / storage.milvus.uri  # Milvus Lite
        else:
            path = None  # a server: it says itself whether it holds a library
        if path is not None and not path.exists():
            yield None
            return
        store = open_backend(self.config, folder)
        try:
            yield store
        finally:
            store.close()

    def article_count(self) -> int:
        """How many articles the library holds, read without loading the model."""
        with self.catalogue() as store:
            return store.article_count() if store is not None else 0

    def check_article(self, article_id: int) -> None:
        """Raise NotFoundError unless the library holds `article_id` (no model needed)."""
        with self.catalogue() as store:
            if store is None or article_id not in store.articles([article_id]):
                raise NotFoundError(f"no article with id {article_id}")

    @contextmanager
    def service(self, *, llm: bool | None = None) -> Iterator[AnswerService]:
        """The answer service; `llm` (default: the config's `[llm] enabled`) writes answers
        with the configured language model server."""
        embedder = self.embedder_loading()
        from bot.answers.service import AnswerService

        writer = self.writer(llm)
        try:
            with self.knowledge_base(embedder=embedder) as kb:
                # Load the model now, so the first answer's timings measure answering.
                kb.embedder.embed_query("warm up")
                yield AnswerService(kb, self.config.answers, writer=writer)
        finally:
            if writer is not None:
                writer.close()

    def embedder_loading(self) -> Embedder:
        """The embedder, its model already loading on another thread: for a command that
        will use it, so that the model loads while the command imports and opens the store.
        The same embedder on every call."""
        from index.embedding.factory import LazyEmbedder

        if self._loading is None:
            self._loading = self.embedder()
            if isinstance(self._loading, LazyEmbedder):
                self._loading.load_in_background()
        return self._loading

    def finish_loading(self) -> None:
        """Wait for a model load begun by `embedder_loading` (a command that found nothing
        to do must not exit in the middle of it)."""
        from index.embedding.factory import LazyEmbedder

        if isinstance(self._loading, LazyEmbedder):
            self._loading.finish_loading()

    def writer(self, llm: bool | None = None) -> LLMWriter | None:
        """The language model writer when `llm` (default: `[llm] enabled`) asks for one."""
        from bot.answers.llm import writer_from_config

        use_llm = self.config.llm.enabled if llm is None else llm
        return writer_from_config(self.config.llm) if use_llm else None

    @contextmanager
    def knowledge_base(
        self, *, allow_model_change: bool = False, embedder: Embedder | None = None
    ) -> Iterator[KnowledgeBase]:
        from index import KnowledgeBase

        embedder = embedder if embedder is not None else self.embedder()
        kb = KnowledgeBase.open(self.config, embedder, allow_model_change=allow_model_change)
        try:
            yield kb
        finally:
            kb.close()


def app_context(config_path: Path | None, data_dir: Path | None) -> AppContext:
    """The command's context: its own --config/--data-dir, else the root group's (or
    what a test passed as the root's `obj`)."""
    parent = click.get_current_context().find_object(AppContext)
    return AppContext(
        config_path or (parent.config_path if parent else None),
        data_dir or (parent.data_dir if parent else None),
        embedder_factory=parent.embedder_factory if parent else None,
    )
