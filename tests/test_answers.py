"""The answer service on a small corpus of its own, with the fake embedder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime

import pytest
from corpus import CORPUS, news_article
from fakes import HashingEmbedder

from bot.answers.chat import Conversation, is_follow_up
from bot.answers.citations import CitationError, verify
from bot.answers.service import AnswerService
from bot.answers.text import is_link_line
from bot.config import AnswerConfig
from index import Config, KnowledgeBase

AS_OF = date(2024, 4, 17)  # a Wednesday
# The decline threshold is calibrated for the real model; the fake embedder's
# similarities run lower, so these tests use a threshold that suits it.
FAKE_ANSWERS = AnswerConfig(min_confidence=0.3)


@pytest.fixture
def service(config: Config) -> Iterator[AnswerService]:
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    kb.ingest_articles(CORPUS)
    yield AnswerService(kb, FAKE_ANSWERS, today=lambda: AS_OF)
    kb.close()


def titles(answer_sources: object) -> list[str]:
    return [s.title for s in answer_sources]  # type: ignore[attr-defined]


def test_answer_quotes_and_cites_resolvable_sentences(service: AnswerService) -> None:
    answer = service.ask("What did the mediators propose in the ceasefire talks?")
    assert not answer.declined
    assert "six-week truce" in answer.text
    verify(answer, service.kb)
    for citation in answer.citations:
        article = service.kb.get_article(citation.article_id)
        assert article.text[citation.start : citation.end] == citation.quote
        assert answer.text[citation.answer_start : citation.answer_end] == citation.quote
        source = answer.sources[citation.number - 1]
        assert source.number == citation.number and source.article_id == article.id
        assert f"{citation.quote} [{citation.number}]" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "What did the mediators propose?",
        "Where did ceasefire talks stall?",
        "What did China do about chip export rules?",
        "How much grain did Ukraine export?",
        "Who mediated the talks?",
        "ceasefire",
        "Qatar Egypt Cairo Doha Paris",
    ],
)
def test_citations_always_resolve(service: AnswerService, question: str) -> None:
    answer = service.ask(question, as_of=AS_OF)
    verify(answer, service.kb)
    if not answer.declined:
        assert answer.citations and len(answer.sources) >= 1


def test_tampered_answers_fail_verification(service: AnswerService) -> None:
    answer = service.ask("What did the mediators propose in the ceasefire talks?")
    citation = answer.citations[0]
    wrong_quote = replace(citation, quote=citation.quote + "!")
    with pytest.raises(CitationError):
        verify(replace(answer, citations=(wrong_quote, *answer.citations[1:])), service.kb)
    wrong_span = replace(citation, start=citation.start + 1)
    with pytest.raises(CitationError):
        verify(replace(answer, citations=(wrong_span, *answer.citations[1:])), service.kb)
    with pytest.raises(CitationError):
        verify(replace(answer, text=answer.text + " Also, trust me."), service.kb)
    ghost = replace(citation, number=99)
    with pytest.raises(CitationError):
        verify(replace(answer, citations=(ghost,)), service.kb)


def test_unrelated_question_is_declined_with_closest_sources(service: AnswerService) -> None:
    answer = service.ask("Who won the 2018 FIFA World Cup?")
    assert answer.declined
    assert answer.text.startswith("I couldn't find this in the 6 articles I have")
    assert answer.citations == ()


def test_word_budget_keeps_answers_short(config: Config) -> None:
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    kb.ingest_articles(CORPUS)
    tight = AnswerService(kb, AnswerConfig(word_budget=20, min_confidence=0.3), today=lambda: AS_OF)
    answer = tight.ask("ceasefire talks mediators negotiators")
    assert not answer.declined
    words = sum(len(c.quote.split()) for c in answer.citations)
    assert words <= 20 or len(answer.citations) == 1
    kb.close()


def test_links_to_other_stories_are_not_quoted(config: Config) -> None:
    # News sites insert headlines of other stories into an article's text; they report
    # nothing of this story, however many of the question's words they share.
    article = news_article(
        "grain",
        "Grain corridor deal",
        "Negotiators agreed a grain corridor deal in Istanbul on Tuesday.\n\n"
        "READ MORE: Why the Istanbul grain corridor matters to farmers and bakers\n\n"
        "Opinion:Istanbul negotiators must keep the grain corridor open for hungry nations\n\n"
        "Ships will sail through the corridor next week.",
        datetime(2024, 4, 16, 9, 0),
        "Wire One",
    )
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    kb.ingest_articles([article])
    service = AnswerService(
        kb, FAKE_ANSWERS.model_copy(update={"min_relevance": 0.0}), today=lambda: AS_OF
    )
    answer = service.ask("What did negotiators agree in Istanbul about the grain corridor?")
    quoted = [c.quote for c in answer.citations]
    assert "Negotiators agreed a grain corridor deal in Istanbul on Tuesday." in quoted
    assert not any("READ MORE" in q or "Opinion:" in q for q in quoted)
    # Nor in summaries, of the article or of the topic.
    for summary in (
        service.summarize_article(kb.list_articles()[0].id),
        service.summarize_topic("Istanbul grain corridor negotiators"),
    ):
        quoted = [c.quote for c in summary.citations]
        assert quoted and not any("READ MORE" in q or "Opinion:" in q for q in quoted)
    kb.close()


@pytest.mark.parametrize(
    ("sentence", "is_link"),
    [
        ("Previously:Former Pope Benedict XVI, first to resign, dies", True),
        ("Oscars nominations 2023:Here's the full list", True),
        ("READ MORE: Baby foods contain toxic metals, report says", True),
        ("NFL NEWSLETTER: Sign up now", True),
        ("WASHINGTON (AP) — The president said the talks would resume.", False),
        ('The president said: "We will act."', False),
        ("At 10:30 the talks began, and it was 3:0 by noon.", False),
        ("U.S. officials said on Monday that talks would resume.", False),
    ],
)
def test_what_counts_as_a_link_to_another_story(sentence: str, is_link: bool) -> None:
    assert is_link_line(sentence) is is_link


def test_this_week_prefers_sources_in_the_window(service: AnswerService) -> None:
    answer = service.ask("What happened in the ceasefire talks this week?", as_of=AS_OF)
    assert answer.window is not None and not answer.window.strict
    assert (answer.window.since, answer.window.until) == (date(2024, 4, 15), AS_OF)
    assert answer.window.description
    assert answer.sources[0].title == "Ceasefire talks resume in Cairo"


def test_last_month_prefers_march(service: AnswerService) -> None:
    answer = service.ask("What happened in the ceasefire talks last month?", as_of=AS_OF)
    assert (answer.window.since, answer.window.until) == (date(2024, 3, 1), date(2024, 3, 31))  # type: ignore[union-attr]
    assert answer.sources[0].title == "Ceasefire talks stall in Doha"


def test_in_january_2024_prefers_january(service: AnswerService) -> None:
    answer = service.ask("What happened in the ceasefire talks in January 2024?", as_of=AS_OF)
    assert answer.sources[0].title == "Ceasefire talks begin"


def test_latest_prefers_newest(service: AnswerService) -> None:
    answer = service.ask("What is the latest on the ceasefire talks?", as_of=AS_OF)
    assert answer.sources[0].title == "Ceasefire talks resume in Cairo"


def test_soft_window_keeps_undated_sources(service: AnswerService) -> None:
    retrieved = service.retrieve("how do ceasefire talks work this week", as_of=AS_OF, keep=10)
    assert "Background: how ceasefire talks work" in {
        p.hit.article.title for p in retrieved.passages
    }
    undated = [p for p in retrieved.passages if p.hit.article.published is None]
    assert all(p.in_window is None for p in undated)


def test_explicit_dates_filter_strictly(service: AnswerService) -> None:
    answer = service.ask(
        "ceasefire talks", since=date(2024, 3, 1), until=date(2024, 3, 31), as_of=AS_OF
    )
    assert answer.window is not None and answer.window.strict
    assert titles(answer.sources) == ["Ceasefire talks stall in Doha"]
    retrieved = service.retrieve(
        "ceasefire talks", since=date(2024, 3, 1), until=date(2024, 3, 31), keep=10
    )
    assert {p.hit.article.title for p in retrieved.passages} == {"Ceasefire talks stall in Doha"}


def test_diversity_drops_wire_copies(config: Config) -> None:
    story = (
        "Rebels seized the northern town of Kivu after heavy fighting on Sunday, officials said."
    )
    copies = [
        news_article(f"copy{i}", "Rebels seize Kivu", story, datetime(2024, 4, 1), f"Outlet {i}")
        for i in range(5)
    ]
    other = news_article(
        "analysis",
        "Why the rebels took Kivu",
        "The rebels took Kivu because government troops withdrew from the town.",
        datetime(2024, 4, 2),
        "Analysis Daily",
    )
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    kb.ingest_articles([*copies, other])
    service = AnswerService(kb, FAKE_ANSWERS, today=lambda: AS_OF)
    retrieved = service.retrieve("rebels seized Kivu town", keep=3)
    titles_found = [p.hit.article.title for p in retrieved.passages]
    assert titles_found.count("Rebels seize Kivu") == 1
    assert "Why the rebels took Kivu" in titles_found
    kb.close()


def test_follow_up_is_read_in_context(service: AnswerService) -> None:
    conversation = Conversation(service, as_of=AS_OF)
    first = conversation.ask("Which countries tightened chip export rules?")
    assert first.sources[0].title.startswith("Japan and the Netherlands")
    follow_up = conversation.ask("And how did China respond?")
    assert not follow_up.declined
    assert "gallium" in follow_up.text or "firm response" in follow_up.text
    assert follow_up.search_query and "chip" in follow_up.search_query
    # Without the conversation, the same words lack the context.
    assert service.ask("And how did China respond?").search_query == "And how did China respond?"


def test_follow_up_inherits_the_window(service: AnswerService) -> None:
    conversation = Conversation(service, as_of=AS_OF)
    conversation.ask("What happened in the ceasefire talks last month?")
    follow_up = conversation.ask("And what did Qatar say?")
    assert follow_up.window is not None
    assert (follow_up.window.since, follow_up.window.until) == (date(2024, 3, 1), date(2024, 3, 31))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("And how did China respond?", True),
        ("What about Russia?", True),
        ("Why did they do it?", True),
        ("What did Biden and Kishida agree on in Washington?", False),
    ],
)
def test_follow_up_detection(question: str, expected: bool) -> None:
    assert is_follow_up(question) is expected


@pytest.mark.parametrize(
    "question",
    [
        "",
        "   ",
        "x" * 10_000,
        "?!.,;:()[]{}",
        "中国外交部发言人今天说了什么",
        "مرحبا بالعالم",
        "🙂🙂🙂",
    ],
)
def test_odd_questions_get_a_clear_answer(service: AnswerService, question: str) -> None:
    answer = service.ask(question)
    assert answer.text.strip()
    verify(answer, service.kb)
    if not question.strip() or not any(ch.isalnum() for ch in question):
        assert answer.declined


def test_summaries_cite_every_sentence(service: AnswerService) -> None:
    article = next(a for a in service.kb.list_articles() if a.title.startswith("Japan and"))
    summary = service.summarize_article(article.id)
    assert summary.kind == "article_summary" and not summary.declined
    verify(summary, service.kb)
    starts = [c.start for c in summary.citations]
    assert starts == sorted(starts)
    assert summary.citations[0].start == 0  # the lede
    assert {c.article_id for c in summary.citations} == {article.id}


def test_topic_summary_is_in_time_order_and_cited(service: AnswerService) -> None:
    summary = service.summarize_topic("ceasefire talks mediators", as_of=AS_OF)
    assert summary.kind == "topic_summary" and not summary.declined
    verify(summary, service.kb)
    dated = [
        service.kb.get_article(c.article_id).published
        for c in summary.citations
        if service.kb.get_article(c.article_id).published
    ]
    assert dated == sorted(dated)  # type: ignore[type-var]
    assert len({c.article_id for c in summary.citations}) >= 2
    assert summary.coverage is not None and summary.coverage[0] <= summary.coverage[1]  # type: ignore[operator]


def test_topic_summary_with_dates(service: AnswerService) -> None:
    summary = service.summarize_topic(
        "ceasefire talks", since=date(2024, 3, 1), until=date(2024, 4, 30)
    )
    for citation in summary.citations:
        published = service.kb.get_article(citation.article_id).published
        assert published is not None and published >= datetime(2024, 3, 1)


def test_service_is_safe_from_many_threads(service: AnswerService) -> None:
    from concurrent.futures import ThreadPoolExecutor

    questions = [
        "What did the mediators propose?",
        "Where did ceasefire talks stall?",
        "What did China do about chip export rules?",
        "How much grain did Ukraine export?",
    ] * 6
    expected = [service.ask(q).text for q in questions]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda q: service.ask(q).text, questions))
    assert got == expected
