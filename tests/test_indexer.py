"""The incremental indexer over a real Chroma store in tmp_path (fake embedder)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.indexer import index_corpus, index_lock
from index.store import ChromaStore
from rag.errors import EmbeddingMismatchError, IndexBusyError
from rag.settings import Settings
from tests.fakes import HashEmbedder

BOILERPLATE = (
    "Leave a Reply",
    "Your email address will not be published",
    "Reaction score",
    "Latest posts",
    "Back Top Bottom",
    "CLICK HERE TO READ MORE",
    "Video Embed",
    "READ ALSO |",
    "What's new",
    "GreenLeaf",
)


@pytest.fixture
def corpus(tmp_path: Path, seeds_dir: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(seeds_dir, folder)
    return folder


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(corpus=corpus, data_dir=tmp_path / "data", llm="extractive")


def test_seeds_index_with_titles_dates_and_no_boilerplate(settings: Settings) -> None:
    embedder = HashEmbedder()
    report = index_corpus(settings, embedder=embedder)
    assert report.articles == 5 and report.added == report.chunks > 5
    assert report.skipped == ()
    store = ChromaStore.from_settings(settings)
    metas = store.article_metas()
    assert len(metas) == 5
    assert all(m.title and m.published for m in metas)
    assert metas[0].published == "2023-03-17"  # newest first
    for chunk in store.all_chunks():
        assert "โ€" not in chunk.text
        for junk in BOILERPLATE:
            assert junk not in chunk.text, (junk, chunk.chunk_id)
        article = store.article_text(chunk.metadata["doc_id"])
        assert article[chunk.metadata["start"] : chunk.metadata["end"]] == chunk.text


def test_second_run_adds_nothing_and_embeds_nothing(settings: Settings) -> None:
    index_corpus(settings, embedder=HashEmbedder())
    embedder = HashEmbedder()
    report = index_corpus(settings, embedder=embedder)
    assert (report.added, report.removed, report.updated) == (0, 0, 0)
    assert report.unchanged == report.chunks
    assert embedder.texts_embedded == 0
    assert report.seconds < 5  # generous here; the benchmark holds the 1 s budget


def test_changed_and_deleted_articles(settings: Settings, corpus: Path) -> None:
    first = index_corpus(settings, embedder=HashEmbedder())
    (corpus / "001_f4e4b5b006eee376.txt").unlink()
    path = corpus / "003_365e933e9b9305cd.txt"
    old = "Weeks later, Russian tanks rolled into Ukraine."
    path.write_text(path.read_text(encoding="utf-8").replace(old, old + " A correction."))
    embedder = HashEmbedder()
    report = index_corpus(settings, embedder=embedder)
    assert report.articles == 4
    assert report.removed >= 1 and report.added >= 1
    assert 0 < embedder.texts_embedded < first.chunks
    store = ChromaStore.from_settings(settings)
    assert "001_f4e4b5b006eee376" not in {m.doc_id for m in store.article_metas()}
    assert store.chunk_count() == report.chunks


def test_wire_copy_is_stored_once_and_knows_both_articles(settings: Settings, corpus: Path) -> None:
    paragraph = (corpus / "003_365e933e9b9305cd.txt").read_text(encoding="utf-8")
    (corpus / "005_wire_copy.txt").write_text(paragraph, encoding="utf-8")
    report = index_corpus(settings, embedder=HashEmbedder())
    store = ChromaStore.from_settings(settings)
    carried = [c for c in store.all_chunks() if "005_wire_copy" in c.metadata["doc_ids"]]
    assert carried, "the copy's chunks should be known"
    assert all("003_365e933e9b9305cd" in c.metadata["doc_ids"] for c in carried)
    assert report.chunks == store.chunk_count()


def test_other_embedding_model_is_refused(settings: Settings) -> None:
    index_corpus(settings, embedder=HashEmbedder(name="model-a"))
    with pytest.raises(EmbeddingMismatchError, match="--rebuild"):
        index_corpus(settings, embedder=HashEmbedder(name="model-b"))
    report = index_corpus(settings, embedder=HashEmbedder(name="model-b"), rebuild=True)
    assert report.added == report.chunks


def test_second_writer_gets_index_busy(settings: Settings) -> None:
    with index_lock(settings.data_dir), pytest.raises(IndexBusyError):
        index_corpus(settings, embedder=HashEmbedder(), lock_wait=0.2)


def test_interrupted_run_is_repaired(settings: Settings) -> None:
    class Dies(HashEmbedder):
        def embed_documents(self, texts):  # type: ignore[no-untyped-def]
            if self.calls >= 1:
                raise KeyboardInterrupt
            return super().embed_documents(texts)

    small = settings.model_copy(update={"embed_batch_size": 2})
    with pytest.raises(KeyboardInterrupt):
        index_corpus(small, embedder=Dies())
    report = index_corpus(settings, embedder=HashEmbedder())
    clean = index_corpus(
        settings.model_copy(update={"data_dir": settings.data_dir.parent / "clean"}),
        embedder=HashEmbedder(),
    )
    store = ChromaStore.from_settings(settings)
    assert store.chunk_count() == clean.chunks == report.chunks
    assert store.article_count() == 5


def test_unchanged_corpus_is_recognised_without_reading_articles(
    settings: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (corpus / "broken.txt").write_bytes(b"\x00\x01binary")
    first = index_corpus(settings, embedder=HashEmbedder())

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("articles were read although nothing changed")

    monkeypatch.setattr("index.articles.load_articles", no_reading)
    again = index_corpus(settings, embedder=HashEmbedder())
    assert (again.added, again.unchanged, again.articles) == (0, first.chunks, 5)
    assert [s.path for s in again.skipped] == ["broken.txt"]
    monkeypatch.undo()
    (corpus / "001_f4e4b5b006eee376.txt").touch()  # a change, even of time only, re-checks
    monkeypatch.setattr("index.articles.load_articles", no_reading)
    with pytest.raises(AssertionError, match="nothing changed"):
        index_corpus(settings, embedder=HashEmbedder())
