"""Reading RealTimeQA weekly files: questions, gold answers and the articles searched for them.

The scoring rules follow the dataset's README in this project's shared data: the corpus is
every article of every `search_result`, de-duplicated by URL; a question's gold answers
are ``choices[int(i)]`` for each ``i`` in ``answer``; a text contains an answer when the
normalised answer (lower-case, whitespace runs collapsed) is a substring of the normalised
text; a question is answerable when at least one corpus article contains its answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from index import Config, Embedder, KnowledgeBase
from index.errors import BadInputError
from index.models import ParsedArticle

__all__ = [
    "Dataset",
    "Question",
    "contains_answer",
    "corpus_key",
    "load_dataset",
    "normalise",
    "open_corpus",
]

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text.lower())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    normalised = normalise(text)
    return any(normalise(answer) in normalised for answer in answers)


@dataclass(frozen=True)
class Question:
    id: str
    asked_on: date
    sentence: str
    answers: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Dataset:
    questions: tuple[Question, ...]
    articles: tuple[ParsedArticle, ...]
    files: tuple[Path, ...]
    results: dict[str, tuple[str, ...]]  # question id -> URLs its search returned

    def subset(self, questions: int) -> Dataset:
        """The first `questions` questions and only the articles found for them."""
        kept = self.questions[:questions]
        urls = {url for q in kept for url in self.results.get(q.id, ())}
        return Dataset(
            kept,
            tuple(a for a in self.articles if a.url in urls),
            self.files,
            {q.id: self.results.get(q.id, ()) for q in kept},
        )


def _parse_day(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.strptime(value[:10], "%Y/%m/%d")
    except ValueError:
        return None


def load_dataset(path: Path) -> Dataset:
    """Questions from ``*_qa.jsonl`` and the corpus from ``*_gcs.jsonl`` under `path`.

    `path` may be a folder of weekly files or one ``*_qa.jsonl`` file (its ``_gcs`` twin is
    read beside it).
    """
    if path.is_dir():
        qa_files = sorted(path.glob("*_qa.jsonl"))
    elif path.name.endswith("_qa.jsonl"):
        qa_files = [path]
    else:
        raise BadInputError(str(path), "expected a folder of RealTimeQA files or a *_qa.jsonl")
    if not qa_files:
        raise BadInputError(str(path), "no *_qa.jsonl files found")
    questions: list[Question] = []
    articles: dict[str, ParsedArticle] = {}
    results: dict[str, tuple[str, ...]] = {}
    files: list[Path] = []
    for qa_file in qa_files:
        gcs_file = qa_file.with_name(qa_file.name.replace("_qa.jsonl", "_gcs.jsonl"))
        files.extend([qa_file, gcs_file])
        for line in qa_file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            choices = record["choices"]
            answers = tuple(choices[int(i)] for i in record["answer"])
            asked = _parse_day(record["question_date"])
            questions.append(
                Question(
                    id=str(record["question_id"]),
                    asked_on=(asked or datetime.now()).date(),
                    sentence=str(record["question_sentence"]),
                    answers=answers,
                    source=str(record.get("question_source", "")),
                )
            )
        if not gcs_file.exists():
            raise BadInputError(str(gcs_file), "search results file missing")
        for line_number, line in enumerate(
            gcs_file.read_text(encoding="utf-8").splitlines(), start=1
        ):
            if not line.strip():
                continue
            record = json.loads(line)
            found = record.get("search_result", [])
            results[str(record.get("question_id"))] = tuple(r["url"] for r in found if r.get("url"))
            for result in found:
                url = result.get("url")
                text = result.get("text") or ""
                if not url or url in articles or not text.strip():
                    continue
                articles[url] = ParsedArticle(
                    title=(result.get("title") or "").strip() or text.strip()[:100],
                    text=_tidy(text),
                    source=f"{gcs_file.name}:{line_number}",  # where, not which copy
                    url=url,
                    published=_parse_day(result.get("publish_date") or ""),
                    author=_authors(result.get("authors")),
                )
    return Dataset(tuple(questions), tuple(articles.values()), tuple(files), results)


def _authors(value: object) -> str | None:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v)
    return str(value).strip() or None if value else None


def _tidy(text: str) -> str:
    """Paragraphs on one line each, separated by a blank line, as the parsers store text."""
    paragraphs = (_SPACE.sub(" ", p).strip() for p in re.split(r"\n\s*\n|\n", text))
    return "\n\n".join(p for p in paragraphs if p)


def corpus_key(dataset: Dataset, model_id: str, chunking: str) -> str:
    """A name for the index of this corpus, model and chunking: same inputs, same index.

    Keyed by what is indexed (every article's fields), not by the files' timestamps, so a
    fresh copy of the same weekly files reuses the index instead of embedding it again.
    """
    digest = hashlib.sha256()
    for article in dataset.articles:
        for field in dataclasses.astuple(article):
            digest.update(f"{field}\x1f".encode())
        digest.update(b"\x1e")
    digest.update(f"{model_id}\n{chunking}\n".encode())
    return digest.hexdigest()[:16]


def open_corpus(
    dataset: Dataset,
    config: Config,
    embedder: Embedder,
    cache_root: Path,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> KnowledgeBase:
    """The knowledge base of `dataset`'s corpus, built once and kept under `cache_root`.

    Keyed by the corpus files, the model and the chunking settings, so changing the
    answer logic and running again costs no embedding. An interrupted build resumes:
    articles already stored are skipped as unchanged.
    """
    key = corpus_key(dataset, embedder.model_id, config.chunking.model_dump_json())
    folder = cache_root / f"realtimeqa-{key}"
    corpus_config = config.model_copy(update={"data_dir": folder})
    kb = KnowledgeBase.open(corpus_config, embedder)
    done_marker = folder / "complete"
    if not done_marker.exists():
        total = len(dataset.articles)
        step = 200
        for start in range(0, total, step):
            kb.ingest_articles(dataset.articles[start : start + step])
            if on_progress is not None:
                on_progress(min(start + step, total), total)
        done_marker.write_text(f"{total} articles\n", encoding="utf-8")
    return kb
