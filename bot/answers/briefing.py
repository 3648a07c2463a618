"""A daily briefing: the main stories of a period, each told by quoted sentences.

`compose_briefing` takes the articles published in the period (optionally only those on a
topic), groups them into stories and quotes each story's lead. Articles are one story when
their vectors (the mean of their passages' vectors) are close: an article joins the story
whose centroid it is most similar to, if at least `same_story`, else starts its own. The
stories reported by the most outlets come first. Each quote is a whole sentence of a stored
article, word for word, so it needs no further check: it is its own source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from bot.answers.source_policy import SourcePolicy
from index import Article, KnowledgeBase, Passage
from index.storage.sqlite_store import ArticleFilter

__all__ = ["DailyBriefing", "Story", "StoryQuote", "compose_briefing"]

SAME_STORY = 0.55  # cosine between article vectors: the bundled model's same-event range
MAX_STORIES = 5
QUOTES_PER_STORY = 2
MIN_QUOTE_WORDS = 6  # a dateline or a one-word heading is not a lead
MAX_QUOTE_CHARS = 400
LEAD_SENTENCES = 3  # where an article's lead is looked for
TOPIC_CANDIDATES = 60


@dataclass(frozen=True)
class StoryQuote:
    """A sentence of `article`, word for word: ``article.text[start:end]``."""

    article: Article
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Story:
    """Articles about one event, the most central first, and one or two quotes."""

    articles: tuple[Article, ...]
    quotes: tuple[StoryQuote, ...]

    @property
    def headline(self) -> str:
        return self.articles[0].title

    @property
    def reporters(self) -> tuple[tuple[str | None, str | None], ...]:
        """The outlets (with their countries) reporting the story, each once, in order."""
        seen: dict[tuple[str | None, str | None], None] = {}
        for article in self.articles:
            seen.setdefault((article.outlet, article.country), None)
        return tuple(seen)


@dataclass(frozen=True)
class DailyBriefing:
    since: datetime  # naive UTC, like article dates
    until: datetime
    topic: str | None
    stories: tuple[Story, ...]
    article_count: int  # articles in the period (on the topic), all stories

    @property
    def quiet(self) -> bool:
        return not self.stories


def compose_briefing(
    kb: KnowledgeBase,
    *,
    until: datetime,
    hours: float = 24.0,
    topic: str | None = None,
    sources: SourcePolicy | None = None,
    min_relevance: float = 0.15,
    same_story: float = SAME_STORY,
    max_stories: int = MAX_STORIES,
) -> DailyBriefing:
    """The briefing of the `hours` before `until` (naive UTC)."""
    since = until - timedelta(hours=hours)
    policy = sources or SourcePolicy()
    if topic:
        passage_ids = _topic_passages(kb, topic, since, until, min_relevance)
    else:
        passage_ids = kb.store.passage_ids_where(ArticleFilter(since=since, until=until))
    passages = kb.store.passages(passage_ids)
    articles = {
        a.id: a
        for a in kb.store.articles(sorted({p.article_id for p in passages.values()})).values()
        if not policy.excludes(a)
    }
    if not articles:
        return DailyBriefing(since, until, topic, (), 0)
    vectors = kb.passage_vectors(list(passages))
    by_article: dict[int, list[np.ndarray]] = {}
    for pid, passage in passages.items():
        if passage.article_id in articles and pid in vectors:
            by_article.setdefault(passage.article_id, []).append(vectors[pid])
    centroids = {aid: _unit(np.mean(vs, axis=0)) for aid, vs in by_article.items()}
    # Newest first, so that a story's first article (before centring) is its latest news.
    order = sorted(centroids, key=lambda aid: (articles[aid].published or until, aid), reverse=True)
    groups = _group(order, centroids, same_story)
    ranked = sorted(
        groups,
        key=lambda ids: (
            -len({(articles[i].outlet or "").casefold() for i in ids}),
            -len(ids),
            -max((articles[i].published or since).timestamp() for i in ids),
        ),
    )
    stories = []
    for ids in ranked[:max_stories]:
        members = _central_first(ids, centroids)
        story_articles = tuple(articles[i] for i in members)
        quotes = _quotes(kb, story_articles)
        if quotes:
            stories.append(Story(story_articles, quotes))
    return DailyBriefing(since, until, topic, tuple(stories), len(articles))


def _topic_passages(
    kb: KnowledgeBase, topic: str, since: datetime, until: datetime, min_relevance: float
) -> list[int]:
    """The period's passages on `topic`: found by search, and at least `min_relevance`
    similar to it (a search always returns something)."""
    query = kb.embedder.embed_query(topic)
    hits = kb.search(topic, k=TOPIC_CANDIDATES, since=since, until=until, query_vector=query)
    vectors = kb.passage_vectors([h.passage.id for h in hits])
    return [
        h.passage.id
        for h in hits
        if h.passage.id in vectors and float(np.dot(vectors[h.passage.id], query)) >= min_relevance
    ]


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _group(
    order: Sequence[int], centroids: dict[int, np.ndarray], same_story: float
) -> list[list[int]]:
    """Single-pass clustering: each article joins the closest story, or starts one."""
    groups: list[list[int]] = []
    centres: list[np.ndarray] = []
    for aid in order:
        vector = centroids[aid]
        best, best_similarity = -1, same_story
        for index, centre in enumerate(centres):
            similarity = float(np.dot(vector, centre))
            if similarity >= best_similarity:
                best, best_similarity = index, similarity
        if best < 0:
            groups.append([aid])
            centres.append(vector)
        else:
            groups[best].append(aid)
            centres[best] = _unit(np.mean([centroids[i] for i in groups[best]], axis=0))
    return groups


def _central_first(ids: Sequence[int], centroids: dict[int, np.ndarray]) -> list[int]:
    """The story's articles, the one most like the others first (ties: the order given)."""
    if len(ids) <= 2:
        return list(ids)
    matrix = np.stack([centroids[i] for i in ids])
    closeness = (matrix @ matrix.T).sum(axis=1)
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-closeness[i], i))]


def _lead(kb: KnowledgeBase, article: Article) -> StoryQuote | None:
    """The article's first real sentence: among its first few, the first long enough."""
    passages: list[Passage] = kb.passages_of(article.id)
    spans = [span for passage in passages for span in passage.sentences][:LEAD_SENTENCES]
    for span in spans:
        text = article.text[span.start : span.end].strip()
        if len(text.split()) >= MIN_QUOTE_WORDS and len(text) <= MAX_QUOTE_CHARS:
            start = article.text.index(text, span.start)
            return StoryQuote(article, text, start, start + len(text))
    return None


def _quotes(kb: KnowledgeBase, articles: Sequence[Article]) -> tuple[StoryQuote, ...]:
    """One or two leads: the central article's, then one from another outlet."""
    quotes: list[StoryQuote] = []
    outlets: set[str] = set()
    for article in articles:
        outlet = (article.outlet or f"article {article.id}").casefold()
        if outlet in outlets:
            continue
        quote = _lead(kb, article)
        if quote is None:
            continue
        quotes.append(quote)
        outlets.add(outlet)
        if len(quotes) == QUOTES_PER_STORY:
            break
    return tuple(quotes)
