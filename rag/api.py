"""The public Python API: `Newsdesk` and the `ask` shortcut."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.settings import Settings, load_settings
from rag.types import Answer, Passage, RetrievalFilters, TextDelta

History = Sequence[dict[str, str]]


@dataclass(frozen=True)
class IndexedArticle:
    """One article as the index knows it (for the UI's corpus tab)."""

    doc_id: str
    title: str
    source: str | None
    published: str | None
    chunks: int
    path: str


@dataclass(frozen=True)
class Status:
    """What the UI's status line shows."""

    mode: str  # "ollama" or "extractive"
    model: str | None
    mode_note: str | None  # why extractive, and the command that enables generation
    articles: int
    chunks: int
    last_indexed: str | None  # ISO timestamp


class Newsdesk:
    """Answers questions about the indexed articles.

    Build it with `Newsdesk.from_settings()`; the pieces (embedder, store, retriever,
    generator) come from `rag.pipeline.build_pipeline(settings)` and tests pass fakes.
    """

    def __init__(self, pipeline: object, settings: Settings) -> None:
        from rag.pipeline import Pipeline

        if not isinstance(pipeline, Pipeline):
            raise TypeError("Newsdesk needs a rag.pipeline.Pipeline")
        self.pipeline = pipeline
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Newsdesk:
        """Wire the real parts for `settings` (default: from the environment)."""
        from rag.pipeline import build_pipeline

        settings = settings or load_settings()
        return cls(build_pipeline(settings), settings)

    def ask(
        self,
        question: str,
        history: History | None = None,
        as_of: str | None = None,
        *,
        k: int | None = None,
        llm: str | None = None,
    ) -> Answer:
        """Answer `question` (in the context of `history`), using articles up to `as_of`."""
        answer: Answer | None = None
        for event in self.stream(question, history, as_of, k=k, llm=llm):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None, "stream ended without an Answer"
        return answer

    def stream(
        self,
        question: str,
        history: History | None = None,
        as_of: str | None = None,
        *,
        k: int | None = None,
        llm: str | None = None,
    ) -> Iterator[TextDelta | Answer]:
        """Yield text deltas as the answer is written, then the final checked `Answer`."""
        return self.pipeline.stream(question, history=history, as_of=as_of, k=k, llm=llm)

    def retrieve(
        self, question: str, *, k: int | None = None, as_of: str | None = None
    ) -> list[Passage]:
        """The passages retrieval returns for `question` (no answer step)."""
        filters = RetrievalFilters(published_to=as_of) if as_of else None
        return self.pipeline.retriever.retrieve(
            question, k=k or self.settings.top_k, filters=filters
        )

    def status(self) -> Status:
        """Mode in use and index statistics."""
        return self.pipeline.status()

    def articles(self) -> list[IndexedArticle]:
        """Every indexed article, newest first."""
        return self.pipeline.store.articles()

    def article_text(self, doc_id: str) -> str:
        """The cleaned text of an article; citation offsets point into it."""
        return self.pipeline.store.article_text(doc_id)

    def add_files(self, paths: Sequence[Path]) -> object:
        """Copy article files into the corpus folder and index them now."""
        return self.pipeline.add_files(paths)


_default: Newsdesk | None = None
_default_lock = threading.Lock()


def ask(question: str, history: History | None = None, as_of: str | None = None) -> Answer:
    """Answer with a default `Newsdesk` built from the environment on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Newsdesk.from_settings()
    return _default.ask(question, history, as_of)
