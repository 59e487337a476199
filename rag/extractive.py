"""Answers without a language model: the passages' own best sentences, each cited.

Sentences are scored against the question (embedding similarity, content-word coverage,
and what the question asks for: a date for "when", a number for "how many", a name for
"who"). The answer refuses when the question's distinctive words are not in the evidence
or no sentence is close enough: it is better to say nothing than to quote something off
the point.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.text import content_terms, sentence_spans
from rag.types import Passage

NO_ANSWER = "The articles don't say."

_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE_WORDS = re.compile(
    rf"\b({_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|spring|summer|"
    r"autumn|fall|winter|yesterday|today|tomorrow|next (week|month|year)|last (week|month|year)|"
    r"(19|20)\d\d|\d{4}-\d\d-\d\d|earlier this year|this (week|month|year))\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?|half|quarter|third|"
    r"percent|once|twice)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")


@dataclass(frozen=True)
class Scored:
    """A candidate sentence of a passage."""

    n: int  # 1-based passage number
    start: int  # offsets in the passage text
    end: int
    text: str
    score: float
    coverage: float
    cosine: float = 0.0


@dataclass(frozen=True)
class Extract:
    """The chosen sentences, or a refusal."""

    answered: bool
    sentences: tuple[Scored, ...]
    evidence: float  # how well the question's key words are covered, 0..1
    best: float  # best sentence score, 0..1
    runners_up: tuple[Scored, ...] = ()  # close candidates not chosen (checked for conflicts)


def question_kind(question: str) -> str:
    """when | count | who | where | other."""
    q = question.lower()
    if re.search(r"\b(when|what (date|day|year|month|time)|how long ago|since when)\b", q):
        return "when"
    if re.search(
        r"\b(how (many|much|long|old|far|big|large)|what (number|percentage|share|amount|age))\b",
        q,
    ):
        return "count"
    if re.search(r"\b(who|whom|whose|which (leader|person|official|outlet))\b", q):
        return "who"
    if re.search(r"\bwhere\b", q):
        return "where"
    return "other"


def kind_bonus(kind: str, sentence: str) -> float:
    """1.0 when the sentence holds what the question asks for, else 0."""
    if kind == "when":
        return 1.0 if _DATE_WORDS.search(sentence) else 0.0
    if kind == "count":
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if kind in ("who", "where"):
        return 1.0 if _NAME.search(sentence) else 0.0
    return 0.0


def key_coverage(question: str, evidence: str, idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the question's content words that the evidence contains."""
    terms = set(content_terms(question))
    if not terms:
        return 0.0
    present = set(content_terms(evidence))
    total = sum(idf(t) for t in terms)
    return sum(idf(t) for t in terms if t in present) / total if total else 0.0


def quote_whole_spans(text: str, max_join: int = 3) -> list[tuple[int, int]]:
    """Sentence spans, except that a quotation split over sentences stays in one span, so
    a quoted sentence keeps the attribution ("…,” Gabuev added.") that follows it."""
    spans = sentence_spans(text)
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        start, end = spans[i]
        j = i
        while _open_quotes(text[start:end]) > 0 and j + 1 < len(spans) and j - i < max_join:
            j += 1
            end = spans[j][1]
        out.append((start, end))
        i = j + 1
    return out


def _open_quotes(text: str) -> int:
    return text.count("“") - text.count("”")


def score_sentences(
    question: str,
    passages: Sequence[Passage],
    *,
    similarity: Callable[[str, Sequence[str]], list[float]] | None,
    idf: Callable[[str], float],
    max_embedded: int = 16,
) -> list[Scored]:
    """The most promising sentences of the passages, scored against the question, best first."""
    kind = question_kind(question)
    candidates: list[tuple[int, int, int, str]] = []
    for n, passage in enumerate(passages, start=1):
        for start, end in quote_whole_spans(passage.text):
            text = passage.text[start:end]
            if len(content_terms(text)) >= 3:
                candidates.append((n, start, end, text))
    if not candidates:
        return []
    kind_bonuses = [kind_bonus(kind, c[3]) for c in candidates]
    coverages = [key_coverage(question, c[3], idf) for c in candidates]
    # Embedding every sentence is most of the cost of an answer: only the sentences that
    # share words with the question, or sit in the best passages, are embedded.
    cheap = [
        cov + 0.3 * bonus + 0.2 * passages[c[0] - 1].score
        for c, cov, bonus in zip(candidates, coverages, kind_bonuses, strict=True)
    ]
    shortlist = sorted(range(len(candidates)), key=lambda i: cheap[i], reverse=True)
    shortlist = shortlist[:max_embedded]
    cosines = [0.0] * len(candidates)
    if similarity:
        found = similarity(question, [candidates[i][3] for i in shortlist])
        for i, cosine in zip(shortlist, found, strict=True):
            cosines[i] = cosine
    scored = []
    for i in shortlist:
        n, start, end, text = candidates[i]
        score = (
            0.5 * max(cosines[i], 0.0)
            + 0.35 * coverages[i]
            + 0.1 * kind_bonuses[i]
            + 0.05 * passages[n - 1].score
        )
        scored.append(
            Scored(
                n, start, end, text, round(score, 4), round(coverages[i], 4), round(cosines[i], 4)
            )
        )
    return sorted(scored, key=lambda s: s.score, reverse=True)


@dataclass(frozen=True)
class Gate:
    """When the evidence is too weak to answer (calibrated on eval/questions.jsonl)."""

    min_cosine: float = 0.5  # the best sentence must be about the question at all
    min_evidence_plus_cosine: float = 0.86  # ... and cover its distinctive words, or be close
    typed_share: float = 0.8  # "when"/"how many": a date/number among the near-best sentences


def select_sentences(
    question: str,
    passages: Sequence[Passage],
    *,
    similarity: Callable[[str, Sequence[str]], list[float]] | None,
    idf: Callable[[str], float],
    max_sentences: int = 3,
    gate: Gate = Gate(),
) -> Extract:
    """Pick up to `max_sentences` complementary sentences, or refuse."""
    scored = score_sentences(question, passages, similarity=similarity, idf=idf)
    if not scored:
        return Extract(False, (), 0.0, 0.0)
    evidence = max(
        key_coverage(question, passages[n - 1].text, idf) for n in {s.n for s in scored[:10]}
    )
    best = scored[0].score
    cosine = max(s.cosine for s in scored)
    kind = question_kind(question)
    near_best = [s for s in scored if s.score >= gate.typed_share * best]
    refuse = (
        (similarity is not None and cosine < gate.min_cosine)
        or evidence + (cosine if similarity is not None else evidence)
        < gate.min_evidence_plus_cosine
        or (kind in ("when", "count") and not any(kind_bonus(kind, s.text) for s in near_best))
    )
    if refuse:
        return Extract(False, (), round(evidence, 4), best)
    chosen = [scored[0]]
    for candidate in scored[1:]:
        if len(chosen) >= max_sentences or candidate.score < 0.8 * best:
            break
        if any(_similar(candidate.text, c.text) for c in chosen):
            continue
        chosen.append(candidate)
    runners_up = tuple(s for s in scored[1:12] if s not in chosen and s.score >= 0.7 * best)
    return Extract(True, tuple(chosen), round(evidence, 4), best, runners_up)


def _similar(a: str, b: str) -> bool:
    ta, tb = set(content_terms(a)), set(content_terms(b))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= 0.5


def idf_from_counts(doc_freq: dict[str, int], total: int) -> Callable[[str], float]:
    """Smoothed inverse document frequency; unseen words weigh the most."""
    ceiling = math.log((total + 1) / 0.5)

    def idf(term: str) -> float:
        df = doc_freq.get(term, 0)
        return ceiling if df == 0 else math.log((total + 1) / (df + 0.5))

    return idf
