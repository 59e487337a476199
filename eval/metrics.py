"""Scoring functions for evaluation runs. Pure: no I/O, no models.

Text normalisation follows the RealTimeQA scorer (lower-case, strip punctuation, collapse
whitespace, keep articles) with one documented difference: Unicode punctuation (curly quotes,
dashes) is removed as well as ASCII punctuation.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.types import Citation, Passage

REGEX_PREFIX = "re:"
_SPACE = re.compile(r"\s+")
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)


# --- retrieval ---------------------------------------------------------------------------


def passage_doc_ids(passage: Passage) -> tuple[str, ...]:
    """Articles a passage stands for: all its `doc_ids` (wire copies) or else its `doc_id`."""
    return passage.doc_ids or (passage.doc_id,)


def relevance(ranked: Sequence[Iterable[str]], gold: Iterable[str]) -> list[bool]:
    """For each ranked passage (given by its doc ids), whether it comes from a gold doc."""
    gold_set = set(gold)
    return [bool(gold_set.intersection(doc_ids)) for doc_ids in ranked]


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    """1.0 when one of the first `k` passages is relevant, else 0.0."""
    return 1.0 if any(relevant[:k]) else 0.0


def mrr_at_k(relevant: Sequence[bool], k: int = 10) -> float:
    """Reciprocal rank of the first relevant passage within the first `k`, else 0.0."""
    for rank, is_relevant in enumerate(relevant[:k], start=1):
        if is_relevant:
            return 1.0 / rank
    return 0.0


def recall_at_k(ranked: Sequence[Iterable[str]], gold: Iterable[str], k: int) -> float:
    """Share of the gold docs found among the first `k` passages (1.0 when there is no gold)."""
    gold_set = set(gold)
    if not gold_set:
        return 1.0
    found = {doc for doc_ids in ranked[:k] for doc in doc_ids} & gold_set
    return len(found) / len(gold_set)


def shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    """Word n-grams of the normalised text (the words themselves when the text is shorter)."""
    tokens = normalize_answer(text).split()
    if len(tokens) < size:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def context_overlap(context: str, passage: str) -> float:
    """Overlap coefficient of word trigrams: 1.0 when one text lies inside the other."""
    a, b = shingles(context), shingles(passage)
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def context_relevance(
    passages: Sequence[str], contexts: Sequence[str], threshold: float = 0.5
) -> list[bool]:
    """For each passage, whether it overlaps one of the reference contexts enough."""
    return [
        any(context_overlap(context, text) >= threshold for context in contexts)
        for text in passages
    ]


# --- answer text ---------------------------------------------------------------------------


_DATE_STAMP = re.compile(r"^\s*as of [^:,.\n]{3,40}[:,]\s*", re.IGNORECASE)


def claim_text(answer: str) -> str:
    """The answer without a leading "As of <date>:" stamp.

    The stamp dates the evidence, it is not a claim: left in, "As of 30 Dec 2022:" would
    answer "When was the call?" for any answer.
    """
    return _DATE_STAMP.sub("", answer, count=1)


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY).casefold()


def required_group_hits(text: str, required: Sequence[Sequence[str]]) -> list[bool]:
    """For each group, whether `text` contains one of its alternatives.

    Plain alternatives are case-insensitive substrings after folding typography (curly quotes,
    dashes, NFKC); alternatives starting with "re:" are case-insensitive regexes.
    """
    plain = _plain(text)
    hits = []
    for group in required:
        hit = False
        for alternative in group:
            if alternative.startswith(REGEX_PREFIX):
                pattern = alternative[len(REGEX_PREFIX) :]
                hit = re.search(pattern, plain, flags=re.IGNORECASE) is not None
            else:
                hit = _plain(alternative) in plain
            if hit:
                break
        hits.append(hit)
    return hits


def required_match(text: str, required: Sequence[Sequence[str]]) -> bool:
    """True when `text` matches at least one alternative of every group."""
    return all(required_group_hits(text, required))


def normalize_answer(text: str) -> str:
    """RealTimeQA normalisation: lower-case, drop ASCII and Unicode punctuation, collapse
    whitespace. Articles are kept, as in the official scorer."""
    text = unicodedata.normalize("NFKC", text).lower()
    kept = "".join(
        " " if unicodedata.category(char).startswith("P") or char in "$+<=>^`|~" else char
        for char in text
    )
    return _SPACE.sub(" ", kept).strip()


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised texts are equal."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall of the normalised texts (SQuAD style)."""
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def containment(prediction: str, reference: str) -> float:
    """1.0 when the normalised reference appears, on word boundaries, in the prediction."""
    ref = normalize_answer(reference)
    if not ref:
        return 0.0
    return float(f" {ref} " in f" {normalize_answer(prediction)} ")


# --- citations and refusals ----------------------------------------------------------------


def citation_precision(citations: Sequence[Citation], gold: Iterable[str]) -> float | None:
    """Share of citations that point into a gold doc and are marked supported (None if none)."""
    if not citations:
        return None
    gold_set = set(gold)
    good = sum(1 for c in citations if c.doc_id in gold_set and c.supported)
    return good / len(citations)


def citation_recall(citations: Sequence[Citation], gold: Iterable[str]) -> float | None:
    """Share of gold docs cited at least once (None when there are no gold docs)."""
    gold_set = set(gold)
    if not gold_set:
        return None
    return len({c.doc_id for c in citations} & gold_set) / len(gold_set)


def unsupported_count(citations: Sequence[Citation]) -> int:
    """Citations whose claim the passage did not support."""
    return sum(1 for c in citations if not c.supported)


@dataclass(frozen=True)
class RefusalStats:
    """How the system handled questions it should and should not answer."""

    unanswerable: int
    correctly_refused: int
    answerable: int
    wrongly_refused: int

    @property
    def refusal_rate(self) -> float | None:
        """Share of unanswerable questions refused (answered=False)."""
        return self.correctly_refused / self.unanswerable if self.unanswerable else None

    @property
    def wrongly_refused_rate(self) -> float | None:
        """Share of answerable questions refused."""
        return self.wrongly_refused / self.answerable if self.answerable else None


def refusal_stats(outcomes: Iterable[tuple[bool, bool]]) -> RefusalStats:
    """Count refusals from (answerable, answered) pairs."""
    counts = Counter((answerable, answered) for answerable, answered in outcomes)
    return RefusalStats(
        unanswerable=counts[(False, True)] + counts[(False, False)],
        correctly_refused=counts[(False, False)],
        answerable=counts[(True, True)] + counts[(True, False)],
        wrongly_refused=counts[(True, False)],
    )


# --- aggregation -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation), None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


# --- multiple choice ---------------------------------------------------------------------


class TextEmbedder(Protocol):
    """Anything that embeds texts into unit vectors (e.g. the `Embedder` protocol)."""

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed passages."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Embed one short text."""
        ...


def choice_support(choice: str, passage: str) -> float:
    """How well a passage supports a choice: 1.0 when the normalised choice appears in it,
    else the share of the choice's tokens found in the passage (0..1, strictly below 1)."""
    if containment(passage, choice):
        return 1.0
    tokens = normalize_answer(choice).split()
    if not tokens:
        return 0.0
    present = set(normalize_answer(passage).split())
    share = sum(1 for token in tokens if token in present) / len(tokens)
    return min(share, 0.99)


def pick_choice(
    choices: Sequence[str],
    passages: Sequence[str],
    *,
    embedder: TextEmbedder | None = None,
    embed_weight: float = 0.5,
) -> int | None:
    """Index of the choice best supported by the ranked passages (best first).

    Each choice scores the max over passages of `choice_support`; ties go to the choice
    supported by the higher-ranked passage, then to the earlier choice. With an `embedder`,
    the score blends in the best cosine similarity between choice and passage.
    Returns None when there are no choices.
    """
    if not choices:
        return None
    similarity: list[list[float]] | None = None
    if embedder is not None and passages:
        passage_vectors = np.asarray(embedder.embed_documents(list(passages)), dtype=float)
        choice_vectors = np.asarray(embedder.embed_documents(list(choices)), dtype=float)
        similarity = (choice_vectors @ passage_vectors.T).tolist()

    def key(index: int) -> tuple[float, int, int]:
        scores = [choice_support(choices[index], text) for text in passages]
        if similarity is not None:
            scores = [
                (1 - embed_weight) * s + embed_weight * sim
                for s, sim in zip(scores, similarity[index], strict=True)
            ]
        if not scores:
            return (0.0, 0, -index)
        best = max(scores)
        best_rank = scores.index(best)
        return (best, -best_rank, -index)

    return max(range(len(choices)), key=key)


# --- thresholds ----------------------------------------------------------------------------


def gate_failures(
    metrics: Mapping[str, float | int | None],
    floors: Mapping[str, float],
    ceilings: Mapping[str, float] | None = None,
) -> list[str]:
    """Messages for every metric below its floor or above its ceiling (empty: gate passes)."""
    failures = []
    checks: list[tuple[Mapping[str, float], str, Callable[[float, float], bool]]] = [
        (floors, ">=", lambda value, bound: value >= bound),
        (ceilings or {}, "<=", lambda value, bound: value <= bound),
    ]
    for bounds, sign, ok in checks:
        for name, bound in bounds.items():
            value = metrics.get(name)
            if value is None:
                failures.append(f"{name}: not measured (must be {sign} {bound})")
            elif not ok(float(value), float(bound)):
                failures.append(f"{name}: {float(value):.3f} (must be {sign} {bound})")
    return failures
