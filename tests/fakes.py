"""Deterministic fakes for the seams (no model, no network)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Sequence

from rag.protocols import ChatMessage

_TOKEN = re.compile(r"[a-z0-9]+")


class HashEmbedder:
    """Bag-of-words vectors from hashed tokens: similar texts get similar vectors."""

    def __init__(self, dimension: int = 64, name: str = "hash-embedder") -> None:
        if dimension < 8:
            raise ValueError("dimension must be at least 8")
        self._dimension = dimension
        self._name = name
        self.calls = 0
        self.texts_embedded = 0

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self._dimension
        for token in _TOKEN.findall(text.lower()):
            digest = hashlib.sha256(token.encode()).digest()
            index = int.from_bytes(digest[:4], "little") % self._dimension
            vector[index] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        self.texts_embedded += len(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self._vector(text)


class MockGenerator:
    """A Generator that replies from a script and records every prompt it was sent."""

    def __init__(self, reply: str = "", *, model_name: str = "mock-model") -> None:
        self.reply = reply
        self._model_name = model_name
        self.prompts: list[list[ChatMessage]] = []
        self.preflights = 0

    @property
    def model_name(self) -> str:
        return self._model_name

    def preflight(self) -> None:
        self.preflights += 1

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        self.prompts.append([dict(m) for m in messages])
        words = self.reply.split(" ")
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word
