"""Spot sources that date the same event differently.

Relative expressions are read against the article's publication date ("last year" in an
article of March 2023 is 2022), so that "the 2020 Winter Olympics" in one article and
"in February last year" in another are seen to disagree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.text import content_terms

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_RELATIVE = re.compile(r"\b(this|last|next|earlier this|later this)\s+year\b", re.IGNORECASE)
_MONTH = re.compile(
    r"\b(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?(?!\s+\d{4})",
    re.IGNORECASE,
)
_DATE_WORDS = set(_MONTHS) | {"year", "last", "next", "earlier", "later", "this"}


def years_mentioned(sentence: str, published: str | None) -> set[int]:
    """Calendar years a sentence refers to, relative words resolved against `published`."""
    years = {int(y) for y in _YEAR.findall(sentence)}
    if not published:
        return years
    pub_year, pub_month = int(published[:4]), int(published[5:7])
    for match in _RELATIVE.finditer(sentence):
        word = match.group(1).lower()
        years.add(pub_year - 1 if word == "last" else pub_year + 1 if word == "next" else pub_year)
    if not years:
        for match in _MONTH.finditer(sentence):
            if not match.group(0)[0].isupper():  # "may", "march" as verbs
                continue
            month = _MONTHS[match.group(1).lower()]
            # A bare month in past-tense news is the latest such month up to publication.
            years.add(pub_year if month <= pub_month else pub_year - 1)
    return years


@dataclass(frozen=True)
class Dated:
    """A sentence with its passage number and publication date."""

    n: int
    text: str
    published: str | None
    source: str | None


@dataclass(frozen=True)
class Conflict:
    """Passages that date the same thing differently: years -> the sentences saying so."""

    sides: tuple[tuple[tuple[int, ...], tuple[Dated, ...]], ...]

    def note(self) -> str:
        """A sentence for the reader."""
        parts = []
        for years, said_by in self.sides:
            who = ", ".join(
                f"[{d.n}] ({d.source or 'unknown outlet'}, {d.published or 'undated'})"
                for d in said_by
            )
            parts.append(
                f"{who} {'say' if len(said_by) > 1 else 'says'} {', '.join(map(str, years))}"
            )
        return "The sources disagree on the date: " + "; ".join(parts) + "."


def _topic(sentence: str) -> set[str]:
    return {t for t in content_terms(sentence) if t not in _DATE_WORDS and not t.isdigit()}


def find_conflicts(sentences: Sequence[Dated], min_overlap: float = 0.2) -> list[Conflict]:
    """Groups of sentences from different passages on one topic with disjoint years."""
    dated = [(d, years_mentioned(d.text, d.published), _topic(d.text)) for d in sentences]
    pairs: dict[frozenset[tuple[int, ...]], dict[tuple[int, ...], list[Dated]]] = {}
    for i, (a, years_a, topic_a) in enumerate(dated):
        for b, years_b, topic_b in dated[i + 1 :]:
            if a.n == b.n or not years_a or not years_b or years_a & years_b:
                continue
            shared = topic_a & topic_b
            if len(shared) >= 3 and len(shared) / min(len(topic_a), len(topic_b)) >= min_overlap:
                key_a, key_b = tuple(sorted(years_a)), tuple(sorted(years_b))
                sides = pairs.setdefault(frozenset((key_a, key_b)), {key_a: [], key_b: []})
                for key, d in ((key_a, a), (key_b, b)):
                    if all(x.n != d.n for x in sides[key]):
                        sides[key].append(d)
    return [
        Conflict(tuple((years, tuple(by)) for years, by in sorted(sides.items())))
        for sides in pairs.values()
    ]
