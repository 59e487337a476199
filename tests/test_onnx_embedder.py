"""The ONNX query embedder agrees with sentence-transformers on the same model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from index.embed import (
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    export_onnx,
    onnx_path,
    query_embedder,
)
from rag.errors import EmbeddingModelError
from rag.settings import Settings, shipped_minilm_path
from rag.text import sentences

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(shipped_minilm_path(), tmp_path_factory.mktemp("onnx") / "model.onnx")


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_vectors_agree_with_sentence_transformers(exported: Path, seeds_dir: Path) -> None:
    text = (seeds_dir / "004_1a874dfea383ef07.txt").read_text(encoding="utf-8")
    texts = ["When did Xi and Putin last meet?", *sentences(text)[:20], text[:3000]]
    onnx = OnnxEmbedder(shipped_minilm_path(), exported, batch_size=8)
    reference = SentenceTransformerEmbedder(shipped_minilm_path())
    ours, theirs = onnx.embed_documents(texts), reference.embed_documents(texts)
    assert min(_cos(a, b) for a, b in zip(ours, theirs, strict=True)) >= 0.999
    assert onnx.dimension == reference.dimension == 384
    assert onnx.model_name == reference.model_name
    # Padding in a batch changes nothing.
    assert _cos(onnx.embed_query(texts[3]), ours[3]) > 0.99999


def test_backend_choice(tmp_path: Path, exported: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert isinstance(query_embedder(settings), SentenceTransformerEmbedder)
    with pytest.raises(EmbeddingModelError, match="newsdesk index"):
        query_embedder(settings.model_copy(update={"embed_backend": "onnx"}))
    target = onnx_path(settings)
    target.parent.mkdir(parents=True)
    target.symlink_to(exported)
    assert isinstance(query_embedder(settings), OnnxEmbedder)
    forced = settings.model_copy(update={"embed_backend": "sentence-transformers"})
    assert isinstance(query_embedder(forced), SentenceTransformerEmbedder)
