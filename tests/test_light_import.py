"""Importing the package must load no model, open no store and start nothing."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "sentence_transformers", "chromadb", "gradio", "llama_index", "transformers")


def test_import_rag_is_light() -> None:
    code = (
        "import sys, rag, rag.api, rag.settings, rag.pipeline, index.indexer, index.store;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_settings_read_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from rag.settings import Settings

    monkeypatch.setenv("NEWSDESK_TOP_K", "9")
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSDESK_CHROMA_URL", "")
    settings = Settings()
    assert settings.top_k == 9
    assert settings.ollama_host == "http://127.0.0.1:11434"
    assert settings.chroma_url is None
    assert settings.embed_model.endswith("model")
