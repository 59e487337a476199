"""Citation markers and claim support."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rag.citations import (
    SUPPORT_THRESHOLD,
    drop_invalid_markers,
    lexical_support,
    marker_numbers,
    split_claims,
    verify_claims,
)
from rag.types import Passage

P1 = (
    "Xi and Putin declared a “boundless” friendship in February last year when the Russian "
    "leader visited Beijing for the opening ceremony of the Winter Olympics. Xi has met Putin "
    "in person 39 times since becoming China’s leader, most recently in September at a summit "
    "in Central Asia."
)
P2 = (
    "Chinese customs data also shows that the two countries’ bilateral trade has increased by "
    "32% in 2022, reaching a record $172.406bn between January and November of this year."
)


def _passage(text: str, doc_id: str, start: int = 100) -> Passage:
    return Passage(
        chunk_id=doc_id,
        doc_id=doc_id,
        title=f"title {doc_id}",
        source="Outlet",
        published="2023-03-17",
        text=text,
        start=start,
        end=start + len(text),
        score=1.0,
    )


PASSAGES = [_passage(P1, "a"), _passage(P2, "b", start=0)]


def test_marker_numbers_in_all_forms() -> None:
    assert marker_numbers("One [1]. Two [2, 3] and [4;5][6].") == [1, 2, 3, 4, 5, 6]


def test_out_of_range_marker_is_removed_and_reported() -> None:
    text, removed = drop_invalid_markers("They met in September [1][9]. Trade grew [2].", {1, 2})
    assert text == "They met in September [1]. Trade grew [2]."
    assert removed == [9]


def test_claims_keep_their_markers_including_a_leading_one() -> None:
    claims = split_claims("They met 39 times [1]. Trade grew 32%. [2] Nothing else.")
    assert [(c.text, c.markers) for c in claims] == [
        ("They met 39 times.", (1,)),
        ("Trade grew 32%.", (2,)),
        ("Nothing else.", ()),
    ]


def test_supported_claim_gets_quote_with_article_offsets() -> None:
    claims = split_claims("Xi has met Putin in person 39 times [1].")
    [citation] = verify_claims(claims, PASSAGES)
    assert citation.supported and citation.doc_id == "a"
    assert citation.quote.startswith("Xi has met Putin in person 39 times")
    assert citation.start == 100 + P1.index("Xi has met Putin in person")
    assert citation.end - citation.start == len(citation.quote)


def test_wrong_number_is_not_supported() -> None:
    claims = split_claims("Xi has met Putin in person 45 times [1].")
    [citation] = verify_claims(claims, PASSAGES)
    assert not citation.supported


def test_claim_citing_the_wrong_passage_is_not_supported() -> None:
    claims = split_claims("Bilateral trade increased by 32% in 2022 [1].")
    [citation] = verify_claims(claims, PASSAGES)
    assert not citation.supported
    [good] = verify_claims(split_claims("Bilateral trade increased by 32% in 2022 [2]."), PASSAGES)
    assert good.supported and good.score >= SUPPORT_THRESHOLD


def test_one_unsupported_use_marks_the_citation() -> None:
    claims = split_claims("Trade grew by 32% [2]. Xi visited Mars [2].")
    [citation] = verify_claims(claims, PASSAGES)
    assert citation.n == 2 and not citation.supported


def test_similarity_can_support_a_paraphrase() -> None:
    claim = "The two leaders are close friends."

    def similarity(_: str, texts: list[str]) -> list[float]:  # type: ignore[override]
        return [0.9 if "boundless" in t else 0.1 for t in texts]

    assert lexical_support(claim, P1) < SUPPORT_THRESHOLD
    [citation] = verify_claims(split_claims(claim + " [1]"), PASSAGES, similarity=similarity)
    assert citation.supported


@given(st.text(max_size=200), st.sets(st.integers(min_value=1, max_value=5)))
def test_dropping_markers_leaves_only_valid_ones(text: str, valid: set[int]) -> None:
    cleaned, _ = drop_invalid_markers(text, valid)
    assert set(marker_numbers(cleaned)) <= valid
