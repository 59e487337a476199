"""Typed values passed between the parts of Newsdesk (frozen dataclasses, no behaviour)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["ollama", "extractive"]


@dataclass(frozen=True)
class ArticleMeta:
    """What is known about one article besides its text."""

    doc_id: str
    title: str
    source: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD
    date_source: str | None = None  # front-matter | sidecar | html | dateline | None
    url: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Article:
    """One cleaned article, ready to chunk."""

    meta: ArticleMeta
    text: str  # the cleaned text; every offset in Newsdesk points into it
    path: str  # path relative to the corpus folder
    content_hash: str  # sha256 of the cleaned text and metadata


@dataclass(frozen=True)
class Chunk:
    """A sentence-aligned span of an article, with character offsets into `Article.text`."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    position: int  # 0-based order of the chunk within its article


@dataclass(frozen=True)
class Skipped:
    """A corpus file that was not indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with everything the answer step and the UI need."""

    chunk_id: str
    doc_id: str
    title: str
    source: str | None
    published: str | None
    text: str
    start: int
    end: int
    score: float  # fused retrieval score, higher is better
    doc_ids: tuple[str, ...] = ()  # every article that carries this text (wire copies)
    dense_score: float | None = None
    bm25_score: float | None = None


@dataclass(frozen=True)
class Citation:
    """One [n] marker in an answer and the passage span that supports it."""

    n: int
    doc_id: str
    title: str
    source: str | None
    published: str | None
    quote: str  # the supporting sentence (or span) of the passage
    start: int  # offsets of `quote` in the cleaned article text
    end: int
    score: float  # support score of the cited claim against `quote`, 0..1
    supported: bool


ANSWER_FIELDS = ("text", "answered", "mode", "citations", "model", "notes", "timings")


@dataclass(frozen=True)
class Answer:
    """A short answer whose claims carry [n] markers resolved in `citations`."""

    text: str
    answered: bool
    mode: Mode
    citations: tuple[Citation, ...] = ()
    model: str | None = None
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    # Retrieved passages, cited or not; for the sources panel. Not part of the JSON contract.
    passages: tuple[Passage, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of `newsdesk ask --json` and the UI's `/ask` endpoint."""
        return {
            "text": self.text,
            "answered": self.answered,
            "mode": self.mode,
            "citations": [asdict(c) for c in self.citations],
            "model": self.model,
            "notes": list(self.notes),
            "timings": dict(self.timings),
        }


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text as it streams in."""

    text: str


@dataclass(frozen=True)
class RetrievalFilters:
    """Optional restrictions on what retrieval may return."""

    doc_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    published_from: str | None = None  # ISO date, inclusive
    published_to: str | None = None  # ISO date, inclusive (the `as_of` date)
