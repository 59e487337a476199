"""Unit and property tests of the pure scoring functions in eval.metrics."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval import metrics as m
from rag.types import Citation, Passage

DOC_IDS = st.sampled_from(["a", "b", "c", "d", "e"])
RANKINGS = st.lists(st.lists(DOC_IDS, min_size=1, max_size=3).map(tuple), max_size=12)
GOLD = st.sets(DOC_IDS, min_size=1, max_size=3)


def passage(doc_id: str, doc_ids: tuple[str, ...] = (), text: str = "") -> Passage:
    return Passage(
        chunk_id=f"{doc_id}-0",
        doc_id=doc_id,
        title="t",
        source=None,
        published=None,
        text=text,
        start=0,
        end=len(text),
        score=1.0,
        doc_ids=doc_ids,
    )


def citation(doc_id: str, supported: bool = True) -> Citation:
    return Citation(
        n=1,
        doc_id=doc_id,
        title="t",
        source=None,
        published=None,
        quote="q",
        start=0,
        end=1,
        score=0.9,
        supported=supported,
    )


# --- retrieval ---------------------------------------------------------------------------


def test_passage_counts_for_every_wire_copy() -> None:
    assert m.passage_doc_ids(passage("a")) == ("a",)
    assert m.passage_doc_ids(passage("a", ("a", "b"))) == ("a", "b")
    ranked = [m.passage_doc_ids(passage("x")), m.passage_doc_ids(passage("a", ("a", "b")))]
    assert m.relevance(ranked, {"b"}) == [False, True]


def test_hit_mrr_recall_on_a_known_ranking() -> None:
    ranked = [("x",), ("y",), ("g1",), ("z",), ("g2",)]
    relevant = m.relevance(ranked, {"g1", "g2", "g3"})
    assert relevant == [False, False, True, False, True]
    assert m.hit_at_k(relevant, 2) == 0.0
    assert m.hit_at_k(relevant, 3) == 1.0
    assert m.mrr_at_k(relevant, 10) == pytest.approx(1 / 3)
    assert m.mrr_at_k(relevant, 2) == 0.0
    assert m.recall_at_k(ranked, {"g1", "g2", "g3"}, 5) == pytest.approx(2 / 3)
    assert m.recall_at_k(ranked, {"g1", "g2", "g3"}, 3) == pytest.approx(1 / 3)


@given(RANKINGS, GOLD)
def test_retrieval_metrics_are_bounded_and_monotone(
    ranked: list[tuple[str, ...]], gold: set[str]
) -> None:
    relevant = m.relevance(ranked, gold)
    for k in range(1, 12):
        assert m.hit_at_k(relevant, k) <= m.hit_at_k(relevant, k + 1)
        assert m.recall_at_k(ranked, gold, k) <= m.recall_at_k(ranked, gold, k + 1)
    mrr = m.mrr_at_k(relevant, 10)
    assert 0.0 <= mrr <= m.hit_at_k(relevant, 10) <= 1.0
    assert (mrr == 1.0) == bool(relevant and relevant[0])
    assert 0.0 <= m.recall_at_k(ranked, gold, 10) <= 1.0


def test_context_overlap_finds_a_passage_inside_a_context() -> None:
    context = "Putin invited Xi to Moscow in the spring. The two leaders met in Samarkand."
    assert m.context_overlap(context, "The two leaders met in Samarkand.") == 1.0
    assert m.context_overlap(context, "Bilateral trade rose by 32% in 2022.") == 0.0
    assert m.context_relevance(["x y z", "putin invited xi to moscow"], [context]) == [
        False,
        True,
    ]


# --- answer text ---------------------------------------------------------------------------


def test_required_groups_need_every_group() -> None:
    groups = [["September", "fall"], ["Uzbekistan", "Central Asia"]]
    assert m.required_match("They met in September in Uzbekistan [1].", groups)
    assert not m.required_match("They met in September.", groups)
    assert m.required_group_hits("in the FALL, in central asia", groups) == [True, True]


def test_required_regexes_and_typography() -> None:
    assert m.required_match("Trade rose by 32% [2].", [[r"re:\b32\s*(%|per ?cent)"]])
    assert m.required_match("Trade rose 32 per cent.", [[r"re:\b32\s*(%|per ?cent)"]])
    assert not m.required_match("It rose 132%.", [[r"re:\b32\s*(%|per ?cent)"]])
    # A non-breaking hyphen and curly quotes still match plain ASCII alternatives.
    assert m.required_match("an eight\u2011minute statement", [["eight-minute"]])
    assert m.required_match("a \u201cbest friend\u201d", [['"best friend"']])
    assert not m.required_match("", [["anything"]])


def test_date_stamp_is_not_a_claim() -> None:
    stamped = "As of 30 Dec 2022: Putin invited Xi to Moscow [1]."
    assert m.claim_text(stamped) == "Putin invited Xi to Moscow [1]."
    assert not m.required_match(m.claim_text(stamped), [["30 Dec", "December"]])
    assert m.claim_text("As of 17 March 2023, Xi will visit.") == "Xi will visit."
    assert m.claim_text("They met as of late.") == "They met as of late."


def test_normalisation_follows_realtimeqa_plus_unicode_punctuation() -> None:
    assert m.normalize_answer("  The \u201cSquid  Game\u201d! ") == "the squid game"
    assert m.normalize_answer("A U.S.-led deal") == "a u s led deal"
    assert m.exact_match("\u201cSquid Game\u201d", '"squid game"') == 1.0
    assert m.exact_match("The Squid Game", "Squid Game") == 0.0  # articles are kept


@given(st.text(max_size=60))
def test_normalisation_is_idempotent(text: str) -> None:
    once = m.normalize_answer(text)
    assert m.normalize_answer(once) == once
    assert once == once.strip()
    assert "  " not in once


@given(st.text(max_size=40), st.text(max_size=40))
def test_token_f1_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert 0.0 <= m.token_f1(a, b) <= 1.0
    assert m.token_f1(a, b) == pytest.approx(m.token_f1(b, a))
    if m.exact_match(a, b):
        assert m.token_f1(a, b) == 1.0


@given(st.lists(st.sampled_from(["xi", "putin", "moscow", "spring", "visit"]), min_size=1))
def test_containment_of_a_phrase_in_a_longer_answer(words: list[str]) -> None:
    phrase = " ".join(words)
    assert m.containment(f"Reports say: {phrase.upper()}, [1].", phrase) == 1.0
    assert m.token_f1(phrase, phrase) == 1.0


def test_containment_respects_word_boundaries() -> None:
    assert m.containment("In 2022 they met.", "2022") == 1.0
    assert m.containment("In 20222 they met.", "2022") == 0.0
    assert m.containment("anything", "") == 0.0
    assert m.token_f1("Xi Jinping", "President Xi Jinping") == pytest.approx(0.8)


# --- citations, refusals, aggregation ------------------------------------------------------


def test_citation_precision_and_recall() -> None:
    cites = [citation("a"), citation("b", supported=False), citation("x")]
    assert m.citation_precision(cites, {"a", "b"}) == pytest.approx(1 / 3)
    assert m.citation_recall(cites, {"a", "b", "c", "d"}) == pytest.approx(0.5)
    assert m.citation_precision([], {"a"}) is None
    assert m.citation_recall(cites, set()) is None
    assert m.unsupported_count(cites) == 1


def test_refusal_stats() -> None:
    stats = m.refusal_stats([(False, False), (False, True), (True, True), (True, False)] * 2)
    assert (stats.unanswerable, stats.correctly_refused) == (4, 2)
    assert (stats.answerable, stats.wrongly_refused) == (4, 2)
    assert stats.refusal_rate == 0.5
    assert stats.wrongly_refused_rate == 0.5
    assert m.refusal_stats([]).refusal_rate is None


def test_percentiles_and_mean() -> None:
    values = [float(v) for v in range(1, 101)]
    assert m.percentile(values, 50) == pytest.approx(50.5)
    assert m.percentile(values, 95) == pytest.approx(95.05)
    assert m.percentile([], 50) is None
    assert m.mean([1.0, None, 3.0]) == 2.0
    assert m.mean([None]) is None


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_percentiles_are_ordered_and_within_range(values: list[float]) -> None:
    p50, p95 = m.percentile(values, 50), m.percentile(values, 95)
    assert p50 is not None and p95 is not None
    assert min(values) <= p50 <= p95 + 1e-6 <= max(values) + 1e-6


# --- multiple choice ---------------------------------------------------------------------


def test_pick_choice_prefers_the_choice_found_in_the_passages() -> None:
    choices = ["\u201cGame of Thrones\u201d", "\u201cSquid Game\u201d", "Friends"]
    passages = ["Netflix said the hit show Squid Game is coming back for a second season."]
    assert m.pick_choice(choices, passages) == 1
    assert m.pick_choice([], passages) is None


def test_pick_choice_breaks_ties_by_retrieval_rank() -> None:
    choices = ["Europe", "Asia"]
    assert m.pick_choice(choices, ["Rules in Asia.", "Rules in Europe."]) == 1
    assert m.pick_choice(choices, ["Rules in Europe.", "Rules in Asia."]) == 0
    assert m.pick_choice(choices, ["Nothing relevant."]) == 0  # all tied: the first choice


class KeywordEmbedder:
    """Unit vectors on two axes: texts about cats, and the rest."""

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [
            [1.0, 0.0] if any(w in t.lower() for w in ("cat", "feline")) else [0.0, 1.0]
            for t in texts
        ]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def test_pick_choice_can_blend_embedding_similarity() -> None:
    passages = ["The cat sat on the mat."]
    # No choice shares a word with the passage: lexically a tie, so the first choice wins.
    assert m.pick_choice(["dog", "feline"], passages) == 0
    # The embedder knows that "feline" is about the cat.
    assert m.pick_choice(["dog", "feline"], passages, embedder=KeywordEmbedder()) == 1
    assert m.pick_choice(["feline", "dog"], passages, embedder=KeywordEmbedder()) == 0


@given(
    st.lists(st.text(min_size=1, max_size=15), min_size=1, max_size=5),
    st.lists(st.text(max_size=40), max_size=5),
)
def test_pick_choice_always_returns_a_valid_index(choices: list[str], passages: list[str]) -> None:
    pick = m.pick_choice(choices, passages)
    assert pick is not None and 0 <= pick < len(choices)


# --- gate ----------------------------------------------------------------------------------


def test_gate_failures_report_floors_and_ceilings() -> None:
    metrics = {"hit@5": 0.9, "required_accuracy": 0.4, "answerable_wrongly_refused": 0.3}
    failures = m.gate_failures(
        metrics,
        {"hit@5": 0.8, "required_accuracy": 0.5, "mrr@10": 0.5},
        {"answerable_wrongly_refused": 0.2},
    )
    assert len(failures) == 3
    assert any(f.startswith("required_accuracy: 0.400") for f in failures)
    assert any(f.startswith("mrr@10: not measured") for f in failures)
    assert any(f.startswith("answerable_wrongly_refused: 0.300") for f in failures)
    assert m.gate_failures({"hit@5": 0.8}, {"hit@5": 0.8}) == []
