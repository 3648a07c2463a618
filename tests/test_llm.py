"""Written answers from an OpenAI-compatible server: every sentence still checked.

The writer is tested with a scripted model (tests/fakes.py) on the tests' own corpus; the
HTTP client against a real local server (tests/local_http.py) speaking the OpenAI chat
completions format, as llama.cpp, Ollama and vLLM do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from corpus import CORPUS
from fakes import HashingEmbedder, ScriptedModel, chat_completion, passage_number
from local_http import LocalHTTPServer
from test_cli import run, write_articles

from bot.answers.citations import CitationError, verify
from bot.answers.llm import (
    LLMError,
    LLMWriter,
    OpenAICompatibleClient,
    WrittenSentence,
    parse_reply,
    writer_from_config,
)
from bot.answers.service import AnswerService
from bot.answers.support import check_support
from bot.config import AnswerConfig, LLMConfig
from bot.discord.answer_pieces import _pieces_from_citations
from bot.discord.render import render_answer
from index import Config, KnowledgeBase

AS_OF = date(2024, 4, 17)
FAKE_ANSWERS = AnswerConfig(min_confidence=0.3)
QUESTION = "What did the mediators propose in the ceasefire talks?"
TRUCE = "six-week truce"
Messages = Sequence[dict[str, str]]


@pytest.fixture
def kb(config: Config) -> Iterator[KnowledgeBase]:
    knowledge_base = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    knowledge_base.ingest_articles(CORPUS)
    yield knowledge_base
    knowledge_base.close()


def service_with(kb: KnowledgeBase, model: ScriptedModel, **llm: object) -> AnswerService:
    writer = LLMWriter(model, LLMConfig(enabled=True, **llm))  # type: ignore[arg-type]
    return AnswerService(kb, FAKE_ANSWERS, today=lambda: AS_OF, writer=writer)


def truce_sentence(messages: Messages) -> str:
    n = passage_number(messages, TRUCE)
    return f"The mediators proposed a six-week truce and a hostage exchange [{n}]."


# -- parsing the model's reply ---------------------------------------------------------


def test_parse_reply_reads_markers_after_and_before_the_full_stop() -> None:
    sentences, uncited = parse_reply(
        "Talks resumed in Cairo. [1] Mediators proposed a truce [2]. Egypt helped [1][3]. "
        "Qatar too [2, 4]."
    )
    assert sentences == [
        WrittenSentence("Talks resumed in Cairo.", (1,)),
        WrittenSentence("Mediators proposed a truce.", (2,)),
        WrittenSentence("Egypt helped.", (1, 3)),
        WrittenSentence("Qatar too.", (2, 4)),
    ]
    assert uncited == []


def test_parse_reply_keeps_uncited_sentences_apart() -> None:
    sentences, uncited = parse_reply(
        "Some context first. Then a cited claim [1]. And a closing thought with none."
    )
    assert sentences == [WrittenSentence("Then a cited claim.", (1,))]
    assert uncited == ["Some context first.", "And a closing thought with none."]


@pytest.mark.parametrize(
    ("reply", "sentences", "uncited"),
    [
        (
            "Biden said [1], and Kishida agreed [2].",
            [WrittenSentence("Biden said, and Kishida agreed.", (1, 2))],
            [],
        ),
        (
            "Biden said [1], adding that ties were strong. Then they ate [2].",
            [
                WrittenSentence("Biden said, adding that ties were strong.", (1,)),
                WrittenSentence("Then they ate.", (2,)),
            ],
            [],
        ),
        (
            "They agreed [1], officials said.",
            [WrittenSentence("They agreed, officials said.", (1,))],
            [],
        ),
        ("Done. [1] and then some", [WrittenSentence("Done.", (1,))], ["and then some"]),
    ],
)
def test_parse_reply_reads_markers_in_mid_sentence(
    reply: str, sentences: list[WrittenSentence], uncited: list[str]
) -> None:
    assert parse_reply(reply) == (sentences, uncited)


def test_support_needs_the_words_and_every_number() -> None:
    passage = "Ceasefire talks resume in Cairo\nThe mediators proposed a six-week truce."
    assert check_support("Mediators proposed a six-week truce.", [passage]).holds(0.7)
    invented_number = check_support("Mediators proposed a 12-week truce.", [passage])
    assert not invented_number.holds(0.7)
    assert invented_number.missing_numbers == ("12",)
    invented_words = check_support("Generals rejected the annexation of provinces.", [passage])
    assert not invented_words.holds(0.7)
    assert "generals" in invented_words.describe()


# -- the writer inside the answer service ------------------------------------------------


def test_written_answer_cites_the_passage_it_rests_on(kb: KnowledgeBase) -> None:
    model = ScriptedModel(truce_sentence)
    answer = service_with(kb, model).ask(QUESTION)
    assert not answer.declined
    assert answer.method == "llm"
    assert answer.text == "The mediators proposed a six-week truce and a hostage exchange. [1]"
    assert answer.sources[0].title == "Ceasefire talks resume in Cairo"
    (citation,) = answer.citations
    # The evidence is the stored sentence that backs the written one, verbatim.
    assert citation.quote == "The mediators proposed a six-week truce and a hostage exchange."
    article = kb.get_article(citation.article_id)
    assert article.text[citation.start : citation.end] == citation.quote
    verify(answer, kb)
    # The model saw the question and numbered passages with outlet and date.
    prompt = model.prompts[0][-1]["content"]
    assert prompt.endswith(f"Question: {QUESTION}")
    assert "Ceasefire talks resume in Cairo (Wire One, 2024-04-15)" in prompt
    assert "[1] " in prompt and "[2] " in prompt


def test_a_sentence_citing_several_sources_gets_each_marker(kb: KnowledgeBase) -> None:
    def reply(messages: Messages) -> str:
        cairo = passage_number(messages, TRUCE)
        doha = passage_number(messages, "stalled in Doha")
        return (
            f"Talks stalled in Doha before negotiators met in Cairo [{doha}][{cairo}]. "
            f"There the mediators proposed a six-week truce [{cairo}]."
        )

    answer = service_with(kb, ScriptedModel(reply)).ask(QUESTION)
    assert answer.method == "llm"
    first, second = answer.text.split(" [1][2] ")
    assert first == "Talks stalled in Doha before negotiators met in Cairo."
    assert second == "There the mediators proposed a six-week truce. [2]"
    assert [s.title for s in answer.sources] == [
        "Ceasefire talks stall in Doha",
        "Ceasefire talks resume in Cairo",
    ]
    assert len(answer.citations) == 3
    verify(answer, kb)


def test_unsupported_sentences_are_dropped_and_said_why(kb: KnowledgeBase) -> None:
    def reply(messages: Messages) -> str:
        n = passage_number(messages, TRUCE)
        return (
            truce_sentence(messages)
            + f" The truce would last 12 weeks [{n}]."
            + f" Generals rejected annexation of northern provinces [{n}]."
            + " Everyone expects peace soon."
            + " Mediators met again [42]."
        )

    answer = service_with(kb, ScriptedModel(reply)).ask(QUESTION)
    assert answer.method == "llm"
    assert answer.text == "The mediators proposed a six-week truce and a hostage exchange. [1]"
    # Each reason once, with how many sentences; the dropped words are never shown.
    assert sorted(answer.notes) == [
        "1 written sentence dropped: cites a passage it was not given",
        "1 written sentence dropped: no citation",
        "1 written sentence dropped: not supported by its sources (names)",
        "1 written sentence dropped: not supported by its sources (numbers)",
    ]
    shown = " ".join(answer.notes)
    for words in ("12 weeks", "Generals", "Everyone expects", "Mediators met"):
        assert words not in shown


def test_nothing_supported_falls_back_to_quotes(kb: KnowledgeBase) -> None:
    model = ScriptedModel("The talks collapsed in 1999 after a coup [1].")
    answer = service_with(kb, model).ask(QUESTION)
    assert not answer.declined
    assert answer.method == "extractive"
    assert TRUCE in answer.text
    assert any("no written sentence held up" in note for note in answer.notes)
    verify(answer, kb)


def test_an_unreachable_model_falls_back_to_quotes(kb: KnowledgeBase) -> None:
    model = ScriptedModel(fail=LLMError("http://127.0.0.1:9/v1/chat/completions: refused"))
    answer = service_with(kb, model).ask(QUESTION)
    assert answer.method == "extractive" and TRUCE in answer.text
    assert any("the language model is unavailable" in note for note in answer.notes)


def test_the_model_saying_not_found_declines(kb: KnowledgeBase) -> None:
    answer = service_with(kb, ScriptedModel("NOT FOUND")).ask(QUESTION)
    assert answer.declined
    assert not answer.citations
    assert "couldn't find this" in answer.text
    assert any("scripted found no answer" in note for note in answer.notes)


def test_an_unanswerable_question_never_reaches_the_model(kb: KnowledgeBase) -> None:
    model = ScriptedModel("Argentina won [1].")
    answer = service_with(kb, model).ask("Who won the 2018 FIFA World Cup?")
    assert answer.declined
    assert model.prompts == []


def test_the_word_budget_bounds_a_written_answer(kb: KnowledgeBase) -> None:
    def reply(messages: Messages) -> str:
        return " ".join([truce_sentence(messages)] * 2 + ["The mediators proposed a truce [1]."])

    writer = LLMWriter(ScriptedModel(reply), LLMConfig(enabled=True))
    service = AnswerService(
        kb, replace_budget(FAKE_ANSWERS, 15), today=lambda: AS_OF, writer=writer
    )
    answer = service.ask(QUESTION)
    assert answer.method == "llm"
    prose = re.sub(r" \[\d+\]", "", answer.text)
    assert len(prose.split()) == 15  # the first and the last sentence fit; the second not
    assert any("over the 15-word budget" in note for note in answer.notes)


def replace_budget(config: AnswerConfig, words: int) -> AnswerConfig:
    return config.model_copy(update={"word_budget": words})


def test_follow_ups_send_the_earlier_questions(kb: KnowledgeBase) -> None:
    model = ScriptedModel(truce_sentence)
    service = service_with(kb, model)
    service.ask("And what about the truce?", context=(QUESTION,))
    prompt = model.prompts[0][-1]["content"]
    assert prompt.endswith(f"Earlier question: {QUESTION}\nQuestion: And what about the truce?")


def test_verify_rejects_a_written_sentence_changed_after_the_check(kb: KnowledgeBase) -> None:
    def paraphrase(messages: Messages) -> str:
        n = passage_number(messages, TRUCE)
        return f"Mediators proposed a six-week truce plus a hostage exchange [{n}]."

    answer = service_with(kb, ScriptedModel(paraphrase)).ask(QUESTION)
    verify(answer, kb)
    tampered = answer.text.replace("Mediators proposed", "Invaders abandoned").replace(
        "hostage", "nuclear"
    )
    assert len(tampered) == len(answer.text)
    with pytest.raises(CitationError, match="not supported by what it cites"):
        verify(replace(answer, text=tampered), kb)
    with pytest.raises(CitationError, match="not followed by it"):
        verify(replace(answer, text=answer.text.replace("[1]", "[2]")), kb)
    # A written sentence is never accepted as a quote.
    with pytest.raises(CitationError, match="not quoted verbatim"):
        verify(replace(answer, method="extractive"), kb)


def test_discord_places_written_sentences_by_their_citations(kb: KnowledgeBase) -> None:
    def reply(messages: Messages) -> str:
        cairo = passage_number(messages, TRUCE)
        doha = passage_number(messages, "stalled in Doha")
        return f"Talks stalled in Doha [{doha}]. Negotiators met in Cairo [{doha}][{cairo}]."

    answer = service_with(kb, ScriptedModel(reply)).ask(QUESTION)
    pieces = _pieces_from_citations(answer)
    assert pieces is not None  # not the text-parsing fallback
    assert [(p.quote, p.marker, sorted(p.numbers)) for p in pieces] == [
        ("Talks stalled in Doha.", " [1]", [1]),
        ("Negotiators met in Cairo.", " [1][2]", [1, 2]),
    ]
    assert render_answer(answer)[0].description == answer.text


def test_discord_footer_says_the_answer_was_written(kb: KnowledgeBase) -> None:
    answer = service_with(kb, ScriptedModel(truce_sentence)).ask(QUESTION)
    footer = render_answer(answer)[-1].footer.text or ""
    assert "written by a language model · every sentence checked against its sources" in footer


# -- written summaries ---------------------------------------------------------------------


def article_id(kb: KnowledgeBase, title: str) -> int:
    return next(a.id for a in kb.list_articles() if a.title == title)


def test_written_article_summary(kb: KnowledgeBase) -> None:
    model = ScriptedModel(
        "Negotiators met in Cairo as ceasefire talks resumed [1]. "
        "The mediators proposed a six-week truce and a hostage exchange [1]. "
        "Delegations meet again on Friday [1]."
    )
    cairo = article_id(kb, "Ceasefire talks resume in Cairo")
    summary = service_with(kb, model).summarize_article(cairo)
    assert summary.kind == "article_summary" and summary.method == "llm"
    assert summary.text.startswith("Negotiators met in Cairo as ceasefire talks resumed. [1] ")
    assert {c.article_id for c in summary.citations} == {cairo}
    assert summary.citations[-1].quote == "Delegations will meet again on Friday."
    verify(summary, kb)
    system, user = model.prompts[0]
    assert "in the order of the article" in system["content"]
    assert user["content"].endswith(
        "Summarise the article \u201cCeasefire talks resume in Cairo\u201d."
    )


def test_written_article_summary_falls_back_to_quotes(kb: KnowledgeBase) -> None:
    model = ScriptedModel(fail=LLMError("http://127.0.0.1:9/v1/chat/completions: refused"))
    cairo = article_id(kb, "Ceasefire talks resume in Cairo")
    summary = service_with(kb, model).summarize_article(cairo)
    assert summary.method == "extractive"
    assert summary.text.startswith("Negotiators met in Cairo on Monday as ceasefire talks resumed.")
    assert any("the language model is unavailable" in note for note in summary.notes)
    verify(summary, kb)


def test_written_topic_summary_reads_sources_oldest_first(kb: KnowledgeBase) -> None:
    def reply(messages: Messages) -> str:
        doha = passage_number(messages, "stalled in Doha")
        cairo = passage_number(messages, TRUCE)
        return (
            f"In March, talks stalled in Doha over a timetable [{doha}]. "
            f"In April, mediators in Cairo proposed a six-week truce [{cairo}]."
        )

    model = ScriptedModel(reply)
    summary = service_with(kb, model).summarize_topic("ceasefire talks")
    assert summary.kind == "topic_summary" and summary.method == "llm"
    assert "stalled in Doha" in summary.text and TRUCE in summary.text
    assert summary.coverage == (date(2024, 3, 20), date(2024, 4, 15))
    verify(summary, kb)
    prompt = model.prompts[0][-1]["content"]
    # Dated passages in time order (the undated explainer, if given, last).
    days = re.findall(r"\((?:[^()]*, )?(\d{4}-\d{2}-\d{2})\)\n", prompt)
    assert days == sorted(days) and len(days) >= 2
    assert "in time order, oldest first" in model.prompts[0][0]["content"]


def test_written_topic_summary_with_nothing_supported_is_quoted(kb: KnowledgeBase) -> None:
    model = ScriptedModel("Talks collapsed in 1999 [1].")
    summary = service_with(kb, model).summarize_topic("ceasefire talks")
    assert summary.method == "extractive" and summary.citations
    assert "1 written sentence dropped: not supported by its sources (numbers)" in summary.notes
    assert not any("1999" in note for note in summary.notes)
    verify(summary, kb)


# -- the OpenAI-compatible client, over real HTTP -------------------------------------


def client_for(server: LocalHTTPServer, **settings: object) -> OpenAICompatibleClient:
    config = LLMConfig(base_url=server.url("/v1"), model="llama-test", **settings)  # type: ignore[arg-type]
    return OpenAICompatibleClient(config, api_key="sekrit")


def test_client_posts_a_chat_completion(local_http: LocalHTTPServer) -> None:
    local_http.add(
        "/v1/chat/completions", chat_completion("Hello [1]."), content_type="application/json"
    )
    client = client_for(local_http, temperature=0.2, max_tokens=99)
    assert client.complete([{"role": "user", "content": "hi"}]) == "Hello [1]."
    (request,) = local_http.requests
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.header("authorization") == "Bearer sekrit"
    payload = json.loads(request.body)
    assert payload == {
        "model": "llama-test",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "max_tokens": 99,
        "stream": False,
    }
    client.close()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("model not loaded", 503, "HTTP 503 model not loaded"),
        ("<html>oops</html>", 200, "not an OpenAI chat completion"),
        (json.dumps({"choices": []}), 200, "not an OpenAI chat completion"),
        (chat_completion(""), 200, "the model replied with no text"),
        (chat_completion(None), 200, "the model replied with no text"),
    ],
)
def test_client_errors_are_one_clear_line(
    local_http: LocalHTTPServer, body: str, status: int, message: str
) -> None:
    local_http.add("/v1/chat/completions", body, status=status, content_type="application/json")
    with pytest.raises(LLMError, match=message) as caught:
        client_for(local_http).complete([{"role": "user", "content": "hi"}])
    assert str(caught.value).startswith(local_http.url("/v1/chat/completions"))


def test_client_gives_up_after_its_timeout(local_http: LocalHTTPServer) -> None:
    local_http.slow("/v1/chat/completions", chat_completion("late"), 5.0)
    with pytest.raises(LLMError, match=r"no reply within 0\.3 s"):
        client_for(local_http, timeout_seconds=0.3).complete([{"role": "user", "content": "x"}])


def test_client_reports_a_server_that_is_not_there() -> None:
    with LocalHTTPServer() as server:
        url = server.url("/v1")
    client = OpenAICompatibleClient(LLMConfig(base_url=url))
    with pytest.raises(LLMError, match="chat/completions"):
        client.complete([{"role": "user", "content": "x"}])


def test_writer_from_config_reads_the_key_from_the_named_variable(
    local_http: LocalHTTPServer,
) -> None:
    local_http.add("/v1/chat/completions", chat_completion("ok"), content_type="application/json")
    config = LLMConfig(base_url=local_http.url("/v1"), api_key_env="MY_LLM_KEY")
    writer_from_config(config, {"MY_LLM_KEY": "k-123"}).client.complete([])
    writer_from_config(config, {}).client.complete([])
    first, second = local_http.requests
    assert first.header("authorization") == "Bearer k-123"
    assert second.header("authorization") is None


# -- the command line -------------------------------------------------------------------


def test_cli_ask_llm_writes_through_the_configured_server(
    tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    data = tmp_path / "kb"
    assert run("ingest", str(write_articles(tmp_path / "articles")), data_dir=data).exit_code == 0
    reply = "Mediators proposed a truce as ceasefire talks resumed in Cairo [1]."
    local_http.add("/v1/chat/completions", chat_completion(reply), content_type="application/json")
    env = {"GEOBOT_LLM__BASE_URL": local_http.url("/v1")}
    result = run("ask", "What did the mediators propose in Cairo?", "--llm", data_dir=data, env=env)
    assert result.exit_code == 0, result.output
    assert "Mediators proposed a truce as ceasefire talks resumed in Cairo. [1]" in result.output
    assert "written by a language model, every sentence checked against its sources" in (
        result.output
    )
    # Without --llm (and llm.enabled false) the server is not asked.
    requests = len(local_http.requests)
    plain = run("ask", "What did the mediators propose in Cairo?", data_dir=data, env=env)
    assert "extractive, every sentence quoted" in plain.output
    assert len(local_http.requests) == requests


def test_cli_ask_llm_with_the_server_down_still_answers(
    tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    data = tmp_path / "kb"
    run("ingest", str(write_articles(tmp_path / "articles")), data_dir=data)
    local_http.status("/v1/chat/completions", 500, "internal error")
    env = {"GEOBOT_LLM__BASE_URL": local_http.url("/v1"), "GEOBOT_LLM__ENABLED": "true"}
    result = run("ask", "What did the mediators propose in Cairo?", data_dir=data, env=env)
    assert result.exit_code == 0, result.output
    assert "Mediators proposed a truce." in result.output
    assert "note: the language model is unavailable" in result.output
    assert "HTTP 500" in result.output


def test_cli_summarize_llm_goes_to_the_server(tmp_path: Path, local_http: LocalHTTPServer) -> None:
    data = tmp_path / "kb"
    run("ingest", str(write_articles(tmp_path / "articles")), data_dir=data)
    reply = "Negotiators met in Cairo as ceasefire talks resumed [1]."
    local_http.add("/v1/chat/completions", chat_completion(reply), content_type="application/json")
    env = {"GEOBOT_LLM__BASE_URL": local_http.url("/v1")}
    result = run("summarize", "--article", "1", "--llm", "--json", data_dir=data, env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["method"] == "llm"
    assert summary["text"] == "Negotiators met in Cairo as ceasefire talks resumed. [1]"
    assert (
        "Summarise the article" in json.loads(local_http.requests[0].body)["messages"][1]["content"]
    )
