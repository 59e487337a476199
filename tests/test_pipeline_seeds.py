"""Answers over the real seeds with the real MiniLM (extractive mode)."""

from __future__ import annotations

import json
import re

import pytest

from rag.errors import QuestionError

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEP_2022 = re.compile(r"September|Uzbekistan|Central Asia|fall", re.IGNORECASE)
DEC_2022 = re.compile(r"December|Friday|video|virtual", re.IGNORECASE)


def test_last_meeting_is_answered_with_dated_citations(seeded_newsdesk) -> None:  # type: ignore[no-untyped-def]
    answer = seeded_newsdesk.ask("When did Xi and Putin last meet?")
    assert answer.answered and answer.mode == "extractive"
    assert answer.text.startswith("As of ")
    assert SEP_2022.search(answer.text) and DEC_2022.search(answer.text)
    assert len({c.doc_id for c in answer.citations}) >= 2
    for citation in answer.citations:
        assert citation.supported and citation.published
        article = seeded_newsdesk.article_text(citation.doc_id)
        assert article[citation.start : citation.end] == citation.quote
        assert f"[{citation.n}]" in answer.text
    json.dumps(answer.to_dict())


@pytest.mark.parametrize(
    "question",
    [
        "Who won the 2022 FIFA World Cup?",
        "What is the population of Moscow?",
        "What is the capital of Australia?",
    ],
)
def test_unanswerable_questions_are_refused(seeded_newsdesk, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = seeded_newsdesk.ask(question)
    assert not answer.answered
    assert answer.text == "The articles don't say."
    assert answer.citations == ()


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many times has Xi met Putin in person?", "39"),
        ("By how much did bilateral trade between China and Russia grow in 2022?", "32%"),
        ("Which Carnegie Endowment analyst commented on the Xi-Putin call?", "Gabuev"),
        ("How many drones did the Ukrainian military say it shot down?", "16"),
    ],
)
def test_factoids(seeded_newsdesk, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    answer = seeded_newsdesk.ask(question)
    assert answer.answered and expected in answer.text


def test_as_of_excludes_later_articles(seeded_newsdesk) -> None:  # type: ignore[no-untyped-def]
    answer = seeded_newsdesk.ask("When will Xi visit Moscow?", as_of="2022-12-31")
    assert answer.answered
    assert all(c.published <= "2022-12-31" for c in answer.citations)
    assert all(p.published <= "2022-12-31" for p in answer.passages)
    later = seeded_newsdesk.ask("When will Xi visit Moscow?")
    assert any(p.published == "2023-03-17" for p in later.passages)


def test_follow_up_uses_the_conversation(seeded_newsdesk) -> None:  # type: ignore[no-untyped-def]
    history = [
        {"role": "user", "content": "When will Xi visit Moscow?"},
        {"role": "assistant", "content": "Next week, at Putin's invitation. [1]"},
    ]
    answer = seeded_newsdesk.ask("What will they discuss there?", history=history)
    assert answer.answered
    assert re.search(r"strategic cooperation|partnership|documents", answer.text)


def test_bad_questions_raise(seeded_newsdesk) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QuestionError, match="empty"):
        seeded_newsdesk.ask("   \n\t ")
    with pytest.raises(QuestionError, match="2,000"):
        seeded_newsdesk.ask("x" * 2001)
    with pytest.raises(QuestionError, match="as_of"):
        seeded_newsdesk.ask("When?", as_of="yesterday")
