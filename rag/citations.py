"""Citation markers: parse them, drop the ones that name no passage, check each claim.

A claim is the sentence of the answer that carries the marker. It is supported when a
sentence of the cited passage (or two adjacent ones) says the same thing: enough of the
claim's content words and all of its numbers appear there, or the embeddings agree.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.text import content_terms, numbers_in, sentence_spans
from rag.types import Citation, Passage

_MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")

SUPPORT_THRESHOLD = 0.5  # tuned on the seed question set; see tests/test_citations.py

Similarity = Callable[[str, Sequence[str]], list[float]]  # claim vs sentences -> cosines


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer and the passage numbers it cites."""

    text: str  # the sentence without its markers
    markers: tuple[int, ...]


def marker_numbers(text: str) -> list[int]:
    """Every passage number cited in `text`, in order of appearance (repeats kept)."""
    return [int(n) for group in _MARKER.findall(text) for n in re.split(r"[,;]", group)]


def drop_invalid_markers(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Remove marker numbers not in `valid` from `text`; return the text and what was removed."""
    removed: list[int] = []

    def keep(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"[,;]", match.group(1))]
        kept = [n for n in numbers if n in valid]
        removed.extend(n for n in numbers if n not in valid)
        return "".join(f"[{n}]" for n in kept)

    cleaned = _MARKER.sub(keep, text)
    cleaned = _SPACE_BEFORE_PUNCT.sub(r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), removed


def split_claims(text: str) -> list[Claim]:
    """The sentences of an answer with the markers each carries.

    A marker that opens the next sentence ("... met. [2] They ...") belongs to the
    sentence before it.
    """
    claims: list[Claim] = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        leading = re.match(r"^(\s*\[\d[\d,;\s]*\])+", sentence)
        if leading and claims:
            prev = claims[-1]
            claims[-1] = Claim(prev.text, prev.markers + tuple(marker_numbers(leading.group())))
            sentence = sentence[leading.end() :]
        markers = tuple(marker_numbers(sentence))
        bare = _SPACE_BEFORE_PUNCT.sub(r"\1", _MARKER.sub("", sentence)).strip()
        if bare or markers:
            claims.append(Claim(bare, markers))
    return claims


def lexical_support(claim: str, evidence: str) -> float:
    """Share of the claim's content words found in `evidence`, zero if a number is missing."""
    claim_terms = set(content_terms(claim))
    if not claim_terms:
        return 0.0
    evidence_terms = set(content_terms(evidence))
    claim_numbers = numbers_in(claim)
    if claim_numbers and not claim_numbers <= numbers_in(evidence):
        return 0.0
    return len(claim_terms & evidence_terms) / len(claim_terms)


@dataclass(frozen=True)
class Support:
    """How well one passage span supports a claim."""

    score: float
    start: int  # offsets in the passage text
    end: int


def best_support(claim: str, passage_text: str, similarity: Similarity | None = None) -> Support:
    """The sentence (or pair of adjacent sentences) of the passage that best supports `claim`."""
    spans = sentence_spans(passage_text) or [(0, len(passage_text))]
    windows = spans + [(a[0], b[1]) for a, b in itertools.pairwise(spans)]
    texts = [passage_text[s:e] for s, e in windows]
    lexical = [lexical_support(claim, t) for t in texts]
    if similarity is not None:
        cosines = similarity(claim, texts)
        scores = [
            max(lex, 0.5 * lex + 0.5 * max(cos, 0.0))
            for lex, cos in zip(lexical, cosines, strict=True)
        ]
    else:
        scores = lexical
    best = max(range(len(windows)), key=lambda i: (scores[i], -(windows[i][1] - windows[i][0])))
    return Support(scores[best], *windows[best])


def verify_claims(
    claims: Sequence[Claim],
    passages: Sequence[Passage],
    *,
    similarity: Similarity | None = None,
    threshold: float = SUPPORT_THRESHOLD,
) -> list[Citation]:
    """One `Citation` per valid marker number, checked against its passage.

    When several claims cite the same passage, the weakest support decides: the citation
    is `supported` only if every claim citing it is.
    """
    by_number: dict[int, Citation] = {}
    for claim in claims:
        for n in claim.markers:
            if not 1 <= n <= len(passages):
                continue
            passage = passages[n - 1]
            support = best_support(claim.text, passage.text, similarity)
            citation = Citation(
                n=n,
                doc_id=passage.doc_id,
                title=passage.title,
                source=passage.source,
                published=passage.published,
                quote=passage.text[support.start : support.end],
                start=passage.start + support.start,
                end=passage.start + support.end,
                score=round(support.score, 3),
                supported=support.score >= threshold,
            )
            if n not in by_number or citation.score < by_number[n].score:
                by_number[n] = citation
    return [by_number[n] for n in sorted(by_number)]
