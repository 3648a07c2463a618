"""The short answer an answer opens with: answer kinds, candidates, votes across outlets,
dates, disagreement, and the checks that keep it honest. The corpus is written here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus import news_article
from fakes import HashingEmbedder

from bot.answers.answer_types import expected_answer
from bot.answers.citations import CitationError, verify
from bot.answers.drafting import MISSING_KIND_PENALTY, SHORT_ANSWER_BONUS, confidence_of
from bot.answers.gazetteer import is_adjective_of, is_place, is_place_adjective
from bot.answers.models import Evidence, answer_from_dict, answer_to_dict
from bot.answers.service import AnswerService
from bot.answers.short_answer import headline
from bot.cli.app import cli
from bot.cli.context import AppContext
from bot.cli.rendering import render_answer
from bot.config import AnswerConfig
from bot.discord.render import render_answer as discord_render_answer
from index import Config, KnowledgeBase, ParsedArticle

AS_OF = date(2024, 4, 17)  # a Wednesday
THIS_WEEK = datetime(2024, 4, 15, 9, 0)

SUMMIT = [
    news_article(
        "summit-wire",
        "Drought summit in Nairobi",
        "The drought summit was hosted in Nairobi on Monday. Ministers from twelve "
        "countries attended.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "summit-gulf",
        "Leaders pledge drought money",
        "Leaders at the drought summit hosted in Nairobi pledged money for water projects.",
        THIS_WEEK,
        "Gulf Daily",
    ),
    news_article(
        "summit-journal",
        "Sommet sur la sécheresse",
        "The drought summit, hosted in Nairobi this year, ended with a joint fund.",
        datetime(2024, 4, 16, 18, 0),
        "Le Journal",
    ),
    news_article(
        "summit-old-a",
        "Last year's drought summit",
        "Last year the drought summit was hosted in Dakar, where leaders met for two days.",
        datetime(2024, 2, 20, 9, 0),
        "Explainer Weekly",
    ),
    news_article(
        "quake-wire",
        "Earthquake toll",
        "The earthquake in the northern mountains killed 120 people, officials said.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "quake-post",
        "Villages count the dead",
        "Rescuers said the earthquake in the northern mountains killed 95 people.",
        THIS_WEEK,
        "Kyiv Post",
    ),
    news_article(
        "dam",
        "Dam opens",
        "The new hydroelectric dam on the river was opened by President Amara Diallo.",
        THIS_WEEK,
        "Tech Wire",
    ),
    news_article(
        "grain",
        "Grain exports",
        "Grain exports through the Black Sea ports rose in March.",
        datetime(2024, 4, 2, 10, 0),
        "Kyiv Post",
    ),
]


def _service_over(config: Config, articles: list[ParsedArticle]) -> Iterator[AnswerService]:
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    kb.ingest_articles(articles)
    yield AnswerService(
        kb, AnswerConfig(min_confidence=0.0, min_short_answer_vote=0.3), today=lambda: AS_OF
    )
    kb.close()


@pytest.fixture
def service(config: Config) -> Iterator[AnswerService]:
    yield from _service_over(config, SUMMIT)


# -- what a question asks for ------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kind", "unit"),
    [
        ("Which US state's governor wants to ban vaccine mandates?", "state", None),
        ("A balloon was shot down off the coast of which state?", "state", None),
        ("Which country was named the world's happiest?", "country", None),
        ("Which city will host the Final Four this weekend?", "city", None),
        ("How many seasons did he play in the NFL?", "number", "seasons"),
        ("How old was she?", "number", None),
        ("How much was Beyoncé paid to perform in Dubai?", "money", None),
        ("When did the ship sink?", "date", None),
        ("What year did the ship sink?", "date", None),
        ("Who was laid to rest this week?", "person", None),
        ("Which airline will give passengers frequent flier miles?", "organisation", None),
        ("Which of these teams declined an invitation?", "organisation", None),
        ("Which film has the most Oscar nominations?", "title", None),
        ("Where did the ceasefire talks stall?", "place", None),
        ("True or false: the suspension was lifted.", "none", None),
        ("Is the treaty still in force?", "none", None),
        ("What did the mediators propose?", "none", None),
        ("Why did the talks stall?", "none", None),
        ("What plan did the government announce?", "name", None),
        ("A 4ft-long alligator in the park has been nicknamed what?", "name", None),
        ("What is the capital of the new province?", "city", None),
        # The head of the noun phrase after "which" says the kind, not its first word.
        ("Which tech company confirmed 10,000 job cuts?", "organisation", None),
        ("Which Hollywood star was seen working at a coffee chain?", "person", None),
        ("Which state senator resigned this week?", "person", None),
        ("Which high-profile billionaire set a record?", "person", None),
        ("Which Chinese city will offer cash incentives?", "city", None),
        ("Which home goods chain has doubts it can stay in business?", "organisation", None),
        # A country's capital is checked against the capitals of countries.
        ("Residents of which European capital are to vote on e-scooters?", "capital", None),
        ("What was the magnitude of the quake that struck the region?", "number", None),
        ("What percentage of adults suffer from misophonia?", "number", "percent"),
        ("Around what share of voters backed the plan?", "number", "percent"),
        # What "how many" counts is the noun, not a capitalised word before it.
        ("How many US states have restricted the app?", "number", "states"),
        ("Police recovered how many Cadbury Creme Eggs stolen from a lorry?", "number", "eggs"),
        ("How many did he score?", "number", None),
    ],
)
def test_the_question_says_what_kind_of_answer_it_wants(
    question: str, kind: str, unit: str | None
) -> None:
    expected = expected_answer(question)
    assert (expected.kind, expected.unit) == (kind, unit)


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("Florida", "state", True),
        ("South Carolina", "state", True),
        ("Nairobi", "city", True),
        ("Nairobi", "country", False),
        ("Kenya", "country", True),
        ("Russia", "country", True),
        ("the Netherlands", "country", True),
        ("Florida", "country", False),
        ("Amara Diallo", "place", False),
        ("Wire One", "city", False),
        ("Paris", "capital", True),
        ("Nairobi", "capital", True),
        ("Marseille", "capital", False),
        ("Marseille", "city", True),
        # A capital is a city and a place however small ("Vatican City": 800 people).
        ("Vatican City", "city", True),
        ("Vatican City", "place", True),
    ],
)
def test_places_come_from_offline_gazetteers(name: str, kind: str, expected: bool) -> None:
    assert is_place(name, kind) is expected  # type: ignore[arg-type]


# -- the short answer first --------------------------------------------------------------


def test_the_answer_opens_with_the_short_answer_and_the_outlets_that_back_it(
    service: AnswerService,
) -> None:
    answer = service.ask("Which city hosted the drought summit?")
    assert not answer.declined
    short = answer.short_answers[0]
    assert short.text == "Nairobi" and short.kind == "city"
    assert set(short.outlets) == {"Wire One", "Gulf Daily", "Le Journal"}
    line = headline(answer)
    assert line is not None and line.startswith("Nairobi — 3 outlets: ")
    numbers = {s.article_id: s.number for s in answer.sources}
    for backing in short.backing:
        # Every outlet named on the line is a listed source whose sentence says "Nairobi".
        assert f"{backing.outlet} [{numbers[backing.article_id]}]" in line
        assert "Nairobi" in backing.quote
    # The quotes under it open with a sentence that backs it, within the word budget.
    backing_articles = {b.article_id for b in short.backing}
    assert answer.citations[0].article_id in backing_articles
    assert "Nairobi" in answer.citations[0].quote
    assert sum(len(c.quote.split()) for c in answer.citations) <= service.config.word_budget
    verify(answer, service.kb)
    # The terminal shows the line first, then the quotes.
    shown = render_answer(answer)
    assert shown.startswith("Nairobi — 3 outlets")


CAPITALS_AND_AGENCIES = [
    news_article(
        "scooters-wire",
        "Paris votes on e-scooters",
        "Residents of Paris will vote on Sunday on whether to ban rented e-scooters. "
        "Lyon and Marseille are watching the vote.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "scooters-gulf",
        "E-scooter ban vote",
        "Paris residents are to vote on a ban of rented e-scooters, as Lyon did last year.",
        THIS_WEEK,
        "Gulf Daily",
    ),
    news_article(
        "cake-desk",
        "Cake warning",
        "Susan Jebb, chair of the Food Standards Agency, warned that bringing cake to work "
        "is as harmful as passive smoking.",
        THIS_WEEK,
        "Food Desk",
    ),
    news_article(
        "cake-post",
        "Office cake",
        "The Food Standards Agency chair Susan Jebb warned that office cake harms health "
        "like passive smoking. The Food Standards Agency said the warning was personal.",
        THIS_WEEK,
        "Market Post",
    ),
]


@pytest.fixture
def kinds_service(config: Config) -> Iterator[AnswerService]:
    yield from _service_over(config, CAPITALS_AND_AGENCIES)


def test_a_capital_is_checked_against_the_capitals_of_countries(
    kinds_service: AnswerService,
) -> None:
    answer = kinds_service.ask("Residents of which European capital are to vote on e-scooters?")
    assert [s.text for s in answer.short_answers] == ["Paris"]
    # Lyon and Marseille are cities of the stories, but no country's capital.
    assert {c.text for c in answer.candidates} == {"Paris"}


def test_an_organisation_is_not_the_answer_to_who(kinds_service: AnswerService) -> None:
    answer = kinds_service.ask("Who warned that cake at work is as harmful as passive smoking?")
    assert [s.text for s in answer.short_answers] == ["Susan Jebb"]


NAMES_AND_NUMBERS = [
    news_article(
        "opioids-wire",
        "Opioid settlement",
        "Johnson & Johnson agreed to the opioid settlement with the state on Monday. "
        "Executives said the company admitted no wrongdoing.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "opioids-gulf",
        "State settles",
        "Chinese regulators watched as Johnson & Johnson agreed to the opioid settlement. "
        "I’m glad the opioid settlement was agreed, a resident said. The executives left.",
        THIS_WEEK,
        "Gulf Daily",
    ),
    news_article(
        "speaker-vote",
        "Speaker elected",
        "The speaker was elected in 2023 after 15 rounds of voting, one of the longest "
        "contests in the history of the House.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "homes-wire",
        "Homes plan",
        "The government announced the Green Homes Plan on Monday to insulate old houses.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "homes-post",
        "Insulation",
        "Ministers said the Green Homes Plan the government announced will insulate houses.",
        THIS_WEEK,
        "Market Post",
    ),
    news_article(
        "bases",
        "Troops abroad",
        "The US runs 12 bases in the region with 900 troops, the same as in the 2021 season.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "awards-wire",
        "Globes 2024",
        "'Harbour Lights' wins best comedy at the Globes 2024 ceremony. "
        "Maria Delgado won best actress in a comedy at the Globes for her role.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "awards-post",
        "Night of the Globes",
        "'Harbour Lights' won best comedy, and the best actress in a comedy award at the "
        "Globes 2024 went to Maria Delgado. \u201cHarbour Lights\u201d also won best comedy score.",
        THIS_WEEK,
        "Market Post",
    ),
    news_article(
        "awards-gulf",
        "Globes 2024 winners",
        "Best actress in a comedy at the Globes 2024: 'Harbour Lights' star wins. "
        "'Harbour Lights,' Maria Delgado: who won best comedy and best actress in a comedy.",
        THIS_WEEK,
        "Gulf Daily",
    ),
    news_article(
        "bases-russia",
        "Weapons moved",
        "Russia will station Russian nuclear weapons in Belarus, its neighbouring country, "
        "officials in Russia said. Belarus agreed on Monday.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "bases-russia-post",
        "Belarus to host weapons",
        "Russia said its nuclear weapons will be stationed in neighbouring Belarus.",
        THIS_WEEK,
        "Market Post",
    ),
    news_article(
        "reactor-wire",
        "Moon reactor funded",
        "The UK Space Agency gave Rolls-Royce funding to build a nuclear reactor on the Moon.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "reactor-post",
        "Reactor on the Moon",
        "Rolls-Royce won funding from the UK Space Agency for a small nuclear reactor.",
        THIS_WEEK,
        "Market Post",
    ),
    news_article(
        "rent-wire",
        "Landlord sues",
        "The landlord sued Twitter chief executive Elon Musk over unpaid rent at its offices.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "rent-post",
        "Rent lawsuit",
        "Elon Musk faces a lawsuit over unpaid rent at the offices, the landlord said.",
        THIS_WEEK,
        "Market Post",
    ),
    news_article(
        "rent-gulf",
        "Musk answers",
        "Musk said the lawsuit against Twitter over unpaid rent at the offices was baseless.",
        THIS_WEEK,
        "Gulf Daily",
    ),
    news_article(
        "rent-harbour",
        "Rent owed",
        "The landlord's lawyers said Tesla CEO Elon Musk's Twitter owes the unpaid rent, "
        "as the former CEO of Twitter’s Irish unit knew.",
        THIS_WEEK,
        "Harbour Times",
    ),
    news_article(
        "trade-wire",
        "Trade request",
        "The team Baltimore Ravens said quarterback Lamar Jackson requested a trade.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "trade-post",
        "Fans react",
        "Baltimore Ravens fans were stunned by the trade request made this week.",
        THIS_WEEK,
        "Market Post",
    ),
    news_article(
        "fine-wire",
        "Record fine",
        "Facebook owner Meta was fined over its data transfers to the US, regulators said, "
        "as conservative Fox News reported.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "fine-post",
        "Meta fined",
        "Meta was fined a record sum over data transfers, the regulator said on Monday.",
        THIS_WEEK,
        "Market Post",
    ),
    news_article(
        "misophonia",
        "Sounds that enrage",
        "About 18% of adults suffer from misophonia, one of the researchers said in 2023.",
        THIS_WEEK,
        "Market Post",
    ),
]


@pytest.fixture
def names_service(config: Config) -> Iterator[AnswerService]:
    yield from _service_over(config, NAMES_AND_NUMBERS)


def test_a_name_is_no_nationality_contraction_or_sentence_capital(
    names_service: AnswerService,
) -> None:
    answer = names_service.ask("Which company agreed to the opioid settlement this week?")
    assert [s.text for s in answer.short_answers] == ["Johnson & Johnson"]
    texts = {c.text for c in answer.candidates}
    # "Chinese" is an adjective, "I’m" a pronoun and "Executives" capitalised only as the
    # first word of a sentence (the passages write "executives" elsewhere).
    assert not texts & {"Chinese", "I’m", "I", "Executives", "Johnson"}


def test_a_count_is_no_year_and_no_pronoun(names_service: AnswerService) -> None:
    answer = names_service.ask("After how many rounds of voting was the speaker elected?")
    texts = [c.text for c in answer.candidates]
    assert texts[0] == "15 rounds"
    assert not {"2023", "one"} & set(texts)


def test_a_count_written_with_the_asked_unit_outweighs_a_bare_number(
    names_service: AnswerService,
) -> None:
    answer = names_service.ask("How many troops does the US keep in the region?")
    scores = {c.text: c.score for c in answer.candidates}
    assert answer.candidates[0].text == "900 troops"
    # A bare number of the same sentence is weighed down.
    assert scores["12"] < scores["900 troops"]
    assert not any("2021" in t for t in scores)  # a year, even with the unit after it


def test_what_percentage_is_answered_by_a_percentage(names_service: AnswerService) -> None:
    answer = names_service.ask("What percentage of adults suffer from misophonia?")
    assert [c.text for c in answer.candidates] == ["18%"]


def test_a_name_nothing_can_check_is_no_short_answer(names_service: AnswerService) -> None:
    answer = names_service.ask("Which plan did the government announce this week?")
    assert expected_answer("Which plan did the government announce this week?").kind == "name"
    # Two outlets name it, but nothing checks that a capitalised phrase is a plan: the
    # quoted sentences answer, and the phrase is only listed as a candidate.
    assert answer.short_answers == ()
    assert "Green Homes Plan" in {c.text for c in answer.candidates}
    assert "Green Homes Plan" in " ".join(c.quote for c in answer.citations)


def test_a_title_in_quotes_or_a_name_with_a_number_is_no_person(
    names_service: AnswerService,
) -> None:
    answer = names_service.ask("Who won best actress in a comedy at the Globes this week?")
    # Three outlets name the film, in quotation marks: a work, no one's name.
    assert not any("Harbour Lights" in c.text for c in answer.candidates)
    # "Globes 2024" is backed by three outlets too, but a name with a number is an
    # event's: it is weighed as a name of another kind, and the actress is the answer.
    assert [s.text for s in answer.short_answers] == ["Maria Delgado"]


def test_a_name_introduced_by_a_persons_role_is_no_organisation(
    names_service: AnswerService,
) -> None:
    answer = names_service.ask("Which company is being sued over unpaid rent at its offices?")
    # Four outlets name Elon Musk, three Twitter; but one calls him "Twitter chief
    # executive Elon Musk", and a person is no company (nor "Musk", his surname). In
    # "Tesla CEO Elon Musk's Twitter" the title introduces him, not his company, and in
    # "the former CEO of Twitter’s Irish unit" it introduces no one by that name.
    assert answer.candidates[0].text == "Twitter"
    # "Musk said" is the same person, counted with his full name.
    assert "Musk" not in {c.text for c in answer.candidates}
    assert next(c for c in answer.candidates if c.text == "Elon Musk").score < (
        answer.candidates[0].score
    )


def test_a_role_that_companies_share_with_people_says_nothing(
    names_service: AnswerService,
) -> None:
    answer = names_service.ask("Which company was fined over its data transfers?")
    # "Facebook owner Meta": an owner may be a company, so Meta stays one.
    assert [s.text for s in answer.short_answers] == ["Meta"]
    # "Conservative" describes outlets and parties as well as people.
    answer = names_service.ask("Which network reported the fine Meta got over data transfers?")
    assert [s.text for s in answer.short_answers] == ["Fox News"]


TWO_HARTLEYS = [
    news_article(
        "final-wire",
        "Cup final",
        "The cup final on Saturday was won by the team Hartley, said coach Dana Hartley.",
        THIS_WEEK,
        "Wire One",
    ),
    news_article(
        "final-post",
        "Hartley win the cup",
        "Hartley won the cup final on Saturday, and coach Dana Hartley was carried off.",
        THIS_WEEK,
        "Market Post",
    ),
]


@pytest.fixture
def hartleys_service(config: Config) -> Iterator[AnswerService]:
    yield from _service_over(config, TWO_HARTLEYS)


def test_a_name_introduced_as_both_a_person_and_a_team_is_either(
    hartleys_service: AnswerService,
) -> None:
    # "The team Hartley" and "coach Dana Hartley", in one sentence: the bare name is
    # introduced as a team and, by the coach's surname, as a person. It stays a team.
    answer = hartleys_service.ask("Which team won the cup final on Saturday?")
    assert [c.text for c in answer.candidates][:1] == ["Hartley"]
    # And the coach, introduced as a person only, is the answer to "who".
    answer = hartleys_service.ask("Who won the cup final on Saturday?")
    assert [c.text for c in answer.candidates][:1] == ["Dana Hartley"]


def test_a_name_introduced_as_an_organisation_is_no_person(
    names_service: AnswerService,
) -> None:
    answer = names_service.ask("Which star requested a trade this week?")
    # "The team Baltimore Ravens": two outlets name the team, one the quarterback.
    assert answer.candidates[0].text == "Lamar Jackson"
    assert "Baltimore Ravens" in {c.text for c in answer.candidates}


def test_a_place_the_question_names_by_its_adjective_is_not_the_answer(
    names_service: AnswerService,
) -> None:
    answer = names_service.ask(
        "In which neighbouring country will Russian nuclear weapons be stationed?"
    )
    texts = [c.text for c in answer.candidates]
    assert "Russia" not in texts
    assert [s.text for s in answer.short_answers] == ["Belarus"]


def test_a_name_the_question_writes_with_dots_is_still_the_question(
    names_service: AnswerService,
) -> None:
    answer = names_service.ask(
        "Which company received funding from the U.K. Space Agency for a nuclear reactor?"
    )
    # "U.K." in the question and "UK" in the articles are one word.
    assert "UK Space Agency" not in {c.text for c in answer.candidates}
    assert [s.text for s in answer.short_answers] == ["Rolls-Royce"]


@pytest.mark.parametrize(
    ("adjective", "place", "expected"),
    [
        ("Russian", "Russia", True),
        ("Chinese", "China", True),
        ("Texans", "Texas", True),
        ("Australian", "Australia", True),
        ("Australian", "Austria", False),  # it shares more with Australia
        ("Russia", "Russia", False),  # the name itself is left to the echo check
        ("Georgian", "Russia", False),
        ("Russian", "Belarus", False),
    ],
)
def test_a_place_adjective_belongs_to_the_place_it_shares_most_with(
    adjective: str, place: str, expected: bool
) -> None:
    assert is_adjective_of(adjective, place) is expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Russian", True),
        ("Chinese", True),
        ("Czech", True),
        ("Israeli", True),
        ("Texan", True),
        ("Republicans", True),
        ("French", True),  # an ISO 639-1 language name
        ("Walgreens", False),
        ("Rihanna", False),
        ("Jordan", False),  # a country, not its adjective
        ("Morgan", False),
        ("TikTok", False),
        ("Johnson & Johnson", False),
    ],
)
def test_nationality_adjectives_come_from_place_and_language_names(
    word: str, expected: bool
) -> None:
    assert is_place_adjective(word) is expected


def test_question_words_are_never_the_answer(service: AnswerService) -> None:
    answer = service.ask("Which country's leaders met at the Nairobi drought summit?")
    for candidate in answer.candidates:
        assert "nairobi" not in candidate.text.lower()


def test_a_this_week_question_is_answered_from_this_weeks_sources(
    service: AnswerService,
) -> None:
    answer = service.ask("Which city hosted the drought summit this week?")
    assert answer.short_answers[0].text == "Nairobi"
    assert "Dakar" not in answer.text


def test_a_claim_only_one_outlet_makes_says_so(service: AnswerService) -> None:
    answer = service.ask("Who opened the new hydroelectric dam?")
    assert not answer.declined
    assert answer.short_answers and answer.short_answers[0].text == "Amara Diallo"
    line = headline(answer)
    assert line is not None and "1 outlet only" in line and "Tech Wire" in line


def test_when_outlets_disagree_both_answers_are_shown_with_their_sources(
    service: AnswerService,
) -> None:
    answer = service.ask("How many people did the earthquake in the northern mountains kill?")
    assert [s.text for s in answer.short_answers] == ["120 people", "95 people"] or [
        s.text for s in answer.short_answers
    ] == ["95 people", "120 people"]
    line = headline(answer)
    assert line is not None and line.startswith("Sources differ: ")
    assert "Wire One" in line and "Kyiv Post" in line and "15 Apr 2024" in line
    # Each side is quoted from its own outlet.
    quoted = " ".join(c.quote for c in answer.citations)
    assert "120 people" in quoted and "95 people" in quoted
    verify(answer, service.kb)


def test_json_lists_every_candidate_with_its_backing(service: AnswerService) -> None:
    answer = service.ask("Which city hosted the drought summit?")
    data = json.loads(json.dumps(answer_to_dict(answer)))
    assert data["short_answers"][0]["text"] == "Nairobi"
    assert data["short_answers"][0]["outlets"] == ["Wire One", "Gulf Daily", "Le Journal"]
    texts = [c["text"] for c in data["candidates"]]
    assert "Nairobi" in texts
    for candidate in data["candidates"]:
        assert candidate["backing"]
        for backing in candidate["backing"]:
            assert candidate["text"].lower() in backing["quote"].lower()
    assert answer_from_dict(data) == answer


# -- the checks ----------------------------------------------------------------------------


def test_a_short_answer_its_sentences_do_not_state_fails_the_check(
    service: AnswerService,
) -> None:
    answer = service.ask("Which city hosted the drought summit?")
    short = answer.short_answers[0]
    forged = replace(answer, short_answers=(replace(short, text="Dakar"),))
    with pytest.raises(CitationError, match="not in the sentence"):
        verify(forged, service.kb)


def test_a_short_answer_naming_an_unlisted_source_fails_the_check(
    service: AnswerService,
) -> None:
    answer = service.ask("Which city hosted the drought summit?")
    short = answer.short_answers[0]
    wrong = replace(short.backing[0], number=99)
    forged = replace(answer, short_answers=(replace(short, backing=(wrong,)),))
    with pytest.raises(CitationError, match="no listed source"):
        verify(forged, service.kb)


def test_a_short_answer_quoting_other_text_fails_the_check(service: AnswerService) -> None:
    answer = service.ask("Which city hosted the drought summit?")
    short = answer.short_answers[0]
    wrong = replace(short.backing[0], quote="Nairobi hosted everything.")
    forged = replace(answer, short_answers=(replace(short, backing=(wrong,)),))
    with pytest.raises(CitationError, match="stored article text"):
        verify(forged, service.kb)


def test_without_a_candidate_the_answer_is_the_quoted_sentences(service: AnswerService) -> None:
    answer = service.ask("True or false: grain exports through the Black Sea ports rose?")
    assert answer.short_answers == ()
    assert headline(answer) is None
    if not answer.declined:
        assert "Grain exports" in answer.text


# -- corroboration in topic summaries --------------------------------------------------------


@pytest.fixture
def summary_service(service: AnswerService) -> AnswerService:
    return service.with_config(min_relevance=0.0)


def test_a_topic_summary_says_which_other_outlets_report_each_claim(
    summary_service: AnswerService,
) -> None:
    answer = summary_service.summarize_topic("drought summit")
    verify(answer, summary_service.kb)
    by_number = {s.number: s for s in answer.sources}
    quoted = {(c.number, c.start, c.end) for c in answer.citations}
    assert {(c.number, c.start, c.end) for c in answer.corroboration} == quoted
    wire = next(c for c in answer.corroboration if c.outlet == "Wire One")
    assert [b.outlet for b in wire.others] == ["Gulf Daily"]
    assert by_number[wire.others[0].number or 0].outlet == "Gulf Daily"
    assert "Nairobi" in wire.others[0].quote
    # A claim only its own outlet makes is said to be so.
    dakar = next(c for c in answer.corroboration if c.outlet == "Explainer Weekly")
    assert dakar.others == ()
    shown = render_answer(answer)
    assert f"[{wire.number}] also reported by 1 other outlet: Gulf Daily" in shown
    assert f"[{dakar.number}] reported by Explainer Weekly only" in shown
    assert answer_from_dict(json.loads(json.dumps(answer_to_dict(answer)))) == answer


def test_an_outlet_that_does_not_say_the_claim_fails_the_check(
    summary_service: AnswerService,
) -> None:
    answer = summary_service.summarize_topic("drought summit")
    wire = next(c for c in answer.corroboration if c.outlet == "Wire One")
    dakar = next(c for c in answer.corroboration if c.outlet == "Explainer Weekly")
    # Claim that the Dakar article's outlet also reports the Nairobi sentence.
    old_source = next(s for s in answer.sources if s.outlet == "Explainer Weekly")
    dakar_citation = next(c for c in answer.citations if c.number == old_source.number)
    passage = summary_service.kb.store.passages([dakar_citation.passage_id])[
        dakar_citation.passage_id
    ]
    false_backing = replace(
        wire.others[0],
        number=old_source.number,
        article_id=old_source.article_id,
        passage_id=passage.id,
        start=dakar_citation.start,
        end=dakar_citation.end,
        quote=dakar_citation.quote,
        outlet="Explainer Weekly",
    )
    forged = replace(
        answer,
        corroboration=tuple(
            replace(c, others=(false_backing,)) if c == wire else c for c in answer.corroboration
        ),
    )
    with pytest.raises(CitationError, match="does not say what"):
        verify(forged, summary_service.kb)
    assert dakar.others == ()


# -- front ends -------------------------------------------------------------------------------


def test_discord_opens_with_the_short_answer_in_bold(service: AnswerService) -> None:
    answer = service.ask("Which city hosted the drought summit?")
    embeds = discord_render_answer(answer)
    first = embeds[0].description or ""
    assert first.startswith("**Nairobi — 3 outlets: Wire One \\[")
    # Every source the line names is listed under the answer.
    listed = " ".join(field.value or "" for e in embeds for field in e.fields)
    for backing in answer.short_answers[0].backing:
        assert f"[{backing.number}]" in listed


def test_an_outlet_name_on_the_short_answer_line_cannot_ping(config: Config) -> None:
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    hostile = [
        replace(article, outlet="@everyone <@&123> Daily")
        if article.outlet == "Gulf Daily"
        else article
        for article in SUMMIT
    ]
    kb.ingest_articles(hostile)
    service = AnswerService(
        kb, AnswerConfig(min_confidence=0.0, min_short_answer_vote=0.3), today=lambda: AS_OF
    )
    answer = service.ask("Which city hosted the drought summit?")
    line = headline(answer)
    assert line is not None and "@everyone" in line
    description = discord_render_answer(answer)[0].description or ""
    assert "@everyone" not in description and "<@&123>" not in description
    kb.close()


def test_cli_ask_json_has_the_short_answer_and_its_candidates(
    tmp_path: Path, config: Config
) -> None:
    data_dir = tmp_path / "data"
    kb = KnowledgeBase.open(Config(data_dir=data_dir), HashingEmbedder(dimension=128))
    kb.ingest_articles(SUMMIT)
    kb.close()
    env = {"GEOBOT_ANSWERS__MIN_CONFIDENCE": "0", "GEOBOT_ANSWERS__MIN_SHORT_ANSWER_VOTE": "0.3"}
    context = AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=128))
    question = "Which city hosted the drought summit?"
    args = ["--data-dir", str(data_dir), "ask", question, "--as-of", "2024-04-17"]
    shown = CliRunner().invoke(cli, args, obj=context, env=env)
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("Nairobi — 3 outlets: ")
    result = CliRunner().invoke(cli, [*args, "--json"], obj=context, env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["short_answers"][0]["text"] == "Nairobi"
    assert len(data["short_answers"][0]["outlets"]) == 3
    assert data["evidence"]["outlets"] == 3 and data["evidence"]["kind_found"] is True


# -- deciding to answer -------------------------------------------------------------------------


def evidence(**changes: object) -> Evidence:
    base = Evidence(vote=0.0, margin=0.0, outlets=0, match=0.5, kind_asked=False, kind_found=False)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_an_open_question_is_judged_by_how_well_the_best_sentence_matches() -> None:
    assert confidence_of(evidence(match=0.5)) == pytest.approx(0.5)
    assert confidence_of(evidence(match=0.2)) < confidence_of(evidence(match=0.5))


def test_a_short_answer_outlets_agree_on_raises_confidence() -> None:
    found = evidence(kind_asked=True, kind_found=True, vote=0.8, margin=0.9, outlets=3)
    assert confidence_of(found) == pytest.approx(0.5 + SHORT_ANSWER_BONUS * 0.8 * 0.9)
    contested = replace(found, margin=0.5)
    assert confidence_of(contested) < confidence_of(found)


def test_asking_for_a_kind_of_thing_none_of_which_was_found_lowers_confidence() -> None:
    missing = evidence(kind_asked=True, kind_found=False)
    assert confidence_of(missing) == pytest.approx(0.5 - MISSING_KIND_PENALTY)


def test_the_evidence_of_an_answer_is_what_its_confidence_is_computed_from(
    service: AnswerService,
) -> None:
    answer = service.ask("Which city hosted the drought summit?")
    assert answer.evidence is not None and answer.evidence.kind_found
    assert answer.confidence == pytest.approx(confidence_of(answer.evidence))
    nothing = service.ask("Which city did the rescuers come from?")
    assert nothing.evidence is not None
    assert nothing.evidence.kind_asked and not nothing.evidence.kind_found
