"""Where answers are lost: how far each stage of the extractive answer could go on the dev set.

    .venv/bin/python bench/answer_ceiling.py [--data ../shared/data/realtimeqa/dev]

For every answerable dev question (declining switched off, as the evaluation's probe
does), it counts how many of them still hold the gold answer after each stage:

- a retrieved passage (the 10 the answer is drafted from);
- a sentence of those passages (what an extractive answer can quote);
- the answer text (the short answer line and the quoted sentences, at most the word budget);
- a candidate short answer (any of the five listed in `--json`), the best candidate, and
  the short answer shown.

A stage can only lose answers, so each line bounds the ones after it: the best candidate
is an upper bound on the short-answer hit whatever the bar for showing it. Matching is the
evaluation's (the normalised gold answer inside the text); a candidate also counts when it
lies inside the gold answer ("Biden" for "President Joe Biden"), so the candidate lines are
generous. The default (int8 ONNX) store is used, as `geobot eval` uses it.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from _common import CACHE, DEV_DIR, require_dev_dir

from bot.answers.answer_types import expected_answer
from bot.answers.service import AnswerService
from bot.config import AnswerConfig
from bot.evaluation.realtimeqa import contains_answer, load_dataset, normalise, open_corpus
from bot.evaluation.scoring import prose_of
from index import Config
from index.config import EmbeddingConfig
from index.embedding.factory import load_embedder

STAGES = (
    "passage",
    "sentence",
    "answer text",
    "any candidate",
    "best candidate",
    "short answer shown",
)
# The kinds a short answer is never shown for (nothing checks them): counted apart.
_UNCHECKED = ("name", "title", "none")


def _names_gold(candidate: str, answers: tuple[str, ...]) -> bool:
    text = normalise(candidate)
    return contains_answer(candidate, answers) or any(text in normalise(a) for a in answers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEV_DIR)
    args = parser.parse_args()
    dataset = load_dataset(require_dev_dir(args.data))
    embedder = load_embedder(EmbeddingConfig(), cache_dir=CACHE / "models")
    kb = open_corpus(dataset, Config(), embedder, CACHE)
    corpus = [normalise(a.text) for a in dataset.articles]
    service = AnswerService(kb, AnswerConfig(min_confidence=0.0))
    reached: Counter[str] = Counter()
    checked: Counter[str] = Counter()
    answerable = checked_questions = 0
    for question in dataset.questions:
        targets = [normalise(a) for a in question.answers]
        if not any(t in text for text in corpus for t in targets):
            continue
        answerable += 1
        retrieved = service.retrieve(question.sentence, as_of=question.asked_on, keep=10)
        answer = service.answer_from(retrieved)
        passages = retrieved.passages[: service.config.passages]
        sentences = [
            r.hit.article.text[span.start : span.end]
            for r in passages
            for span in r.hit.passage.sentences
        ]
        candidates = [c.text for c in answer.candidates]
        shown = " | ".join(s.text for s in answer.short_answers)
        flags = {
            "passage": any(contains_answer(r.hit.passage.text, targets) for r in passages),
            "sentence": any(contains_answer(s, targets) for s in sentences),
            "answer text": not answer.declined and contains_answer(prose_of(answer), targets),
            "any candidate": any(_names_gold(c, question.answers) for c in candidates),
            "best candidate": bool(candidates) and _names_gold(candidates[0], question.answers),
            "short answer shown": bool(shown) and contains_answer(shown, targets),
        }
        is_checked = expected_answer(retrieved.intent.stripped_question).kind not in _UNCHECKED
        checked_questions += is_checked
        for stage, hit in flags.items():
            reached[stage] += hit
            checked[stage] += hit and is_checked
    kb.close()
    print(
        f"{answerable} answerable dev questions ({checked_questions} asking for a kind a "
        "short answer is checked against: a place, person, organisation, number or date)"
    )
    print(f"  {'gold answer still in':22} {'all':>12} {'checked kinds':>16}")
    for stage in STAGES:
        share = reached[stage] / max(answerable, 1)
        checked_share = checked[stage] / max(checked_questions, 1)
        print(
            f"  {stage:22} {reached[stage]:4d} ({share:.3f}) "
            f"{checked[stage]:7d} ({checked_share:.3f})"
        )


if __name__ == "__main__":
    main()
