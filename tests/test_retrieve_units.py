"""Fusion and ranking helpers (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rag.extractive import idf_from_counts, key_coverage, kind_bonus, question_kind
from rag.retrieve import is_temporal, recency_ranking, rrf


def test_rrf_rewards_agreement() -> None:
    fused = rrf([["a", "b", "c"], ["b", "a", "d"]], [1.0, 1.0])
    assert max(fused, key=fused.__getitem__) in ("a", "b")
    assert fused["a"] == fused["b"] > fused["c"] > 0
    assert fused["d"] < fused["a"]


def test_rrf_weight_zero_ignores_a_ranking() -> None:
    assert rrf([["a"], ["b"]], [1.0, 0.0])["b"] == 0.0


@given(
    st.lists(st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=8), min_size=1, max_size=4)
)
def test_rrf_scores_are_positive_and_bounded(rankings: list[list[str]]) -> None:
    fused = rrf(rankings, [1.0] * len(rankings))
    assert set(fused) == {item for ranking in rankings for item in ranking}
    assert all(0 < score <= len(rankings) / 61 for score in fused.values())


def test_recency_ranking_prefers_dates_close_to_reference() -> None:
    dates = {"old": 20221230, "new": 20230317, "none": 0, "mid": 20230101}
    assert recency_ranking(dates, None) == ["new", "mid", "old", "none"]
    assert recency_ranking(dates, 20221231)[:2] == ["old", "mid"]


def test_temporal_questions() -> None:
    assert is_temporal("When did Xi and Putin last meet?")
    assert is_temporal("What is the latest on the visit?")
    assert not is_temporal("Who is Alexander Gabuev?")


def test_question_kinds_and_bonus() -> None:
    assert question_kind("When did they meet?") == "when"
    assert question_kind("How many car brands are Chinese?") == "count"
    assert question_kind("Who is Gabuev?") == "who"
    assert kind_bonus("when", "They met on Friday.") == 1.0
    assert kind_bonus("count", "They met often.") == 0.0


def test_key_coverage_weighs_rare_words() -> None:
    idf = idf_from_counts({"moscow": 40, "putin": 45}, total=50)
    assert key_coverage("What is the population of Moscow?", "Moscow is big", idf) < 0.3
    assert key_coverage("Did Putin visit Moscow?", "Putin will visit Moscow", idf) == 1.0


def test_relative_fusion_keeps_margins() -> None:
    from rag.retrieve import relative_score_fusion

    fused = relative_score_fusion(
        {"a": 0.50, "b": 0.49, "c": 0.10}, {"b": 5.0, "a": 1.0}, {"a": 0.0, "b": 0.0}, 1.0
    )
    assert max(fused, key=fused.__getitem__) == "b"  # BM25's large margin wins
    assert fused["c"] == 0.0  # lowest dense score, absent from BM25


def test_recency_prior_decays_with_distance_from_reference() -> None:
    from rag.retrieve import recency_prior

    prior = recency_prior(
        {"same": 20220930, "week": 20220923, "year": 20210930, "none": 0}, 20220930
    )
    assert prior["same"] == 1.0 > prior["week"] > prior["year"] > 0.0 == prior["none"]
    assert recency_prior({"a": 0}, None) == {"a": 0.0}


@given(
    st.dictionaries(st.sampled_from("abcdef"), st.floats(-1, 1), max_size=6),
    st.dictionaries(st.sampled_from("abcdef"), st.floats(0, 50), max_size=6),
)
def test_relative_fusion_is_bounded(dense: dict[str, float], keyword: dict[str, float]) -> None:
    from rag.retrieve import relative_score_fusion

    fused = relative_score_fusion(dense, keyword, {}, 2.0)
    assert set(fused) == set(dense) | set(keyword)
    assert all(0.0 <= v <= 2.0 for v in fused.values())
