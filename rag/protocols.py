"""The seams of Newsdesk: small protocols that real parts and test fakes both satisfy."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from rag.types import Passage, RetrievalFilters


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    @property
    def model_name(self) -> str:
        """Name recorded in the store, to refuse mixing models."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed passages for storage."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Embed a question for search."""
        ...


@runtime_checkable
class Retriever(Protocol):
    """Finds the passages most likely to answer a question."""

    def retrieve(
        self, query: str, *, k: int, filters: RetrievalFilters | None = None
    ) -> list[Passage]:
        """Return at most `k` passages, best first."""
        ...


ChatMessage = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


@runtime_checkable
class Generator(Protocol):
    """A chat model that streams text."""

    @property
    def model_name(self) -> str:
        """The model that writes the answers."""
        ...

    def preflight(self) -> None:
        """Raise an `OllamaError` subclass when the model cannot answer right now."""
        ...

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        """Yield the reply in pieces; raise an `OllamaError` subclass on failure."""
        ...
