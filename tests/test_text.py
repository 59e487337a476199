"""Sentence spans and term helpers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rag.text import content_terms, numbers_in, sentence_spans, sentences


def test_splits_news_sentences_and_keeps_abbreviations() -> None:
    text = (
        "Putin said the U.S. was provoking China. Xi met Putin in Sept. 2022 in Uzbekistan. "
        "“We are waiting for you,” Putin told Xi. He added more."
    )
    assert sentences(text) == [
        "Putin said the U.S. was provoking China.",
        "Xi met Putin in Sept. 2022 in Uzbekistan.",
        "“We are waiting for you,” Putin told Xi.",
        "He added more.",
    ]


def test_paragraph_breaks_end_sentences_without_full_stop() -> None:
    text = "Xi to meet Putin in Russia next week\n\nChinese leader Xi Jinping will visit Russia."
    assert sentences(text) == [
        "Xi to meet Putin in Russia next week",
        "Chinese leader Xi Jinping will visit Russia.",
    ]


def test_real_seed_sentences(seeds_dir) -> None:  # type: ignore[no-untyped-def]
    text = (seeds_dir / "003_365e933e9b9305cd.txt").read_text(encoding="utf-8")
    found = sentences(text)
    assert "Weeks later, Russian tanks rolled into Ukraine." in found
    assert any(s.startswith("Xi has met Putin in person 39 times") for s in found)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400))
def test_spans_are_ordered_in_bounds_and_lose_no_text(text: str) -> None:
    spans = sentence_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        previous_end = end
    # Everything outside the spans is whitespace: no text is lost.
    covered = set()
    for start, end in spans:
        covered.update(range(start, end))
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


def test_content_terms_drop_stopwords_and_stem() -> None:
    assert content_terms("The leaders were meeting in Moscow") == ["leader", "meet", "moscow"]
    assert numbers_in("trade grew 32% to $172.406bn, 28,401 posts") == {"32", "172.406", "28401"}
