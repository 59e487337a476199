"""Index and answer against a real `chroma run` server on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.indexer import index_corpus
from index.store import ChromaStore
from rag.settings import Settings
from tests.fakes import HashEmbedder

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    process = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("chroma run did not start within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_index_and_retrieve_through_a_chroma_server(
    chroma_server: str, tmp_path: Path, seeds_dir: Path
) -> None:
    settings = Settings(corpus=seeds_dir, data_dir=tmp_path / "local", chroma_url=chroma_server)
    embedder = HashEmbedder()
    first = index_corpus(settings, embedder=embedder)
    assert first.articles == 5 and first.added == first.chunks
    again = index_corpus(settings, embedder=embedder)
    assert again.added == 0 and again.unchanged == first.chunks
    store = ChromaStore.from_settings(settings)
    assert store.chunk_count() == first.chunks
    assert not (tmp_path / "local" / "chroma").exists()  # nothing was stored locally

    from rag.retrieve import HybridRetriever
    from rag.types import RetrievalFilters

    retriever = HybridRetriever(store, embedder)
    passages = retriever.retrieve(
        "Xi met Putin in person 39 times", k=3, filters=RetrievalFilters(published_to="2023-12-31")
    )
    assert any("39 times" in p.text for p in passages)
    old = retriever.retrieve(
        "Xi met Putin in person 39 times", k=3, filters=RetrievalFilters(published_to="2022-12-31")
    )
    assert all(p.published <= "2022-12-31" for p in old)
