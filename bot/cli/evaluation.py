"""`geobot eval ...`: measure retrieval and answers on question sets."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.cli.context import app_context
from bot.cli.errors import GeobotGroup
from bot.cli.options import common_options, llm_option
from bot.cli.rendering import echo
from bot.jsonable import to_jsonable

__all__ = ["eval_group", "eval_realtimeqa"]


@click.group(name="eval", cls=GeobotGroup)
def eval_group() -> None:
    """Measure retrieval and answers on question sets."""


@eval_group.command(name="realtimeqa")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid")
@click.option(
    "--limit",
    type=int,
    default=None,
    help="Only the first N questions, over only the articles found for them.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the corpus index is kept between runs [default: DATA_DIR/eval].",
)
@click.option(
    "--details",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write every question's result to this JSON Lines file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@llm_option
@common_options
def eval_realtimeqa(
    path: Path,
    mode: str,
    limit: int | None,
    cache_dir: Path | None,
    details: Path | None,
    as_json: bool,
    use_llm: bool | None,
    config_path: Path | None,
    data_dir: Path | None,
) -> None:
    """Score answers on RealTimeQA weekly files in PATH (each question as of its date)."""
    from bot.answers.service import AnswerService
    from bot.evaluation.realtimeqa import load_dataset, open_corpus
    from bot.evaluation.scoring import evaluate

    app = app_context(config_path, data_dir)
    dataset = load_dataset(path)
    if limit is not None:
        dataset = dataset.subset(limit)
    cache = cache_dir or app.config.resolved_data_dir() / "eval"
    embedder = app.embedder()
    kb = open_corpus(
        dataset,
        app.config,
        embedder,
        cache,
        on_progress=lambda done, total: echo(f"  indexed {done}/{total} articles", err=True),
    )
    writer = app.writer(use_llm)
    try:
        service = AnswerService(kb, app.config.answers, writer=writer)
        report = evaluate(dataset, service, mode=mode)  # type: ignore[arg-type]
    finally:
        kb.close()
        if writer is not None:
            writer.close()
    if details is not None:
        with details.open("w", encoding="utf-8") as out:
            for result in report.results:
                out.write(json.dumps(to_jsonable(result), ensure_ascii=False) + "\n")
    figures = {k: v for k, v in to_jsonable(report).items() if k != "results"}
    if as_json:
        echo(json.dumps(figures, indent=2))
        return
    echo(
        f"RealTimeQA {path} · mode {mode} · {report.questions} questions, "
        f"{report.answerable} answerable"
    )
    rows = [
        ("answer-recall@1", report.recall_at_1),
        ("answer-recall@5", report.recall_at_5),
        ("answer-recall@10", report.recall_at_10),
        ("MRR@10", report.mrr_at_10),
        ("answer-recall@300w", report.recall_at_300w),
        ("answer-recall@1000w", report.recall_at_1000w),
        ("mean passage words", report.mean_passage_words),
        ("answer-hit", report.answer_hit),
        ("short-answer hit", report.short_answer_hit),
        ("precision (answered)", report.precision),
        ("coverage (answerable)", report.coverage),
        ("mean answer words", report.mean_answer_words),
        ("declined (all)", report.declined),
        ("declined (answerable)", report.declined_answerable),
        ("declined (unanswerable)", report.declined_unanswerable),
        ("mean ms per question", report.mean_ms),
    ]
    for name, value in rows:
        echo(f"  {name:24} {value:8.3f}")
    echo(f"risk-coverage (declining under each confidence; now {report.threshold:.2f}):")
    echo(f"  {'threshold':>9} {'precision':>9} {'coverage':>8} {'unans. declined':>15} {'hit':>6}")
    for row in report.risk_coverage:
        echo(
            f"  {row.threshold:9.2f} {row.precision:9.3f} {row.coverage:8.3f} "
            f"{row.declined_unanswerable:15.3f} {row.answer_hit:6.3f}"
        )
