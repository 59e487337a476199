"""Two writers on one index, and many readers on one `Newsdesk` at once."""

from __future__ import annotations

import hashlib
import math
import shutil
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from index.indexer import index_corpus, index_lock
from index.store import ChromaStore
from rag.api import Newsdesk
from rag.errors import IndexBusyError
from rag.pipeline import Pipeline
from rag.retrieve import HybridRetriever
from rag.settings import Settings
from rag.types import Answer
from tests.fakes import HashEmbedder
from tests.test_reliability_crash import (
    build_corpus,
    consistency_problems,
    lock_holder,
    snapshot,
    start_index,
    wait_for_lock,
)

QUESTIONS: list[tuple[str, str | None]] = [
    ("How many times has Xi met Putin in person?", "39"),
    ("By how much did bilateral trade between China and Russia grow in 2022?", "32%"),
    ("Which Carnegie Endowment analyst commented on the Xi-Putin call?", "Gabuev"),
    ("How many drones did the Ukrainian military say it shot down?", "16"),
    ("Who won the 2022 FIFA World Cup?", None),  # refused
]
READERS = 20


def folder_state(folder: Path) -> dict[str, str]:
    """Name -> content hash of every file in `folder`."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def test_percentile() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.5) == 10.0
    assert percentile(values, 0.95) == 19.0
    assert percentile([3.0], 0.95) == 3.0


# -- writers ----------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_second_writer_is_refused_while_cli_index_runs_then_runs_after(tmp_path: Path) -> None:
    corpus = build_corpus(tmp_path / "corpus", variants=30)
    data_dir = tmp_path / "data"
    settings = Settings.model_validate(
        {"corpus": corpus, "data_dir": data_dir, "llm": "extractive", "ollama_host": "127.0.0.1:9"}
    )
    writer = start_index(data_dir, corpus, NEWSDESK_EMBED_BATCH_SIZE="8")
    try:
        wait_for_lock(writer, data_dir, timeout=240)

        began = time.monotonic()
        with pytest.raises(IndexBusyError), index_lock(data_dir, wait_seconds=0.3):
            pass
        assert time.monotonic() - began < 3
        with pytest.raises(IndexBusyError, match="index is busy") as busy:
            index_corpus(settings, embedder=HashEmbedder(), lock_wait=0.3)
        assert "Try again" in str(busy.value)
        assert writer.poll() is None and lock_holder(data_dir) == writer.pid

        # Second writer, sequential: it waits for the lock, then finds nothing left to do.
        report = index_corpus(settings, lock_wait=600)
        _out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=30)
    assert report.articles == 35
    assert report.added == 0 and report.unchanged == report.chunks > 35
    snap = snapshot(data_dir, corpus)
    assert consistency_problems(snap) == []
    assert snap.chunk_count == report.chunks and len(snap.articles) == 35


def test_upload_while_the_index_is_busy_leaves_the_corpus_alone(
    tmp_path: Path, seeds_dir: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kept.txt").write_text((seeds_dir / "003_365e933e9b9305cd.txt").read_text())
    settings = Settings.model_validate(
        {"corpus": corpus, "data_dir": tmp_path / "data", "llm": "extractive"}
    )
    store, embedder = ChromaStore.from_settings(settings), HashEmbedder()
    index_corpus(settings, embedder=embedder, store=store)
    newsdesk = Newsdesk(
        Pipeline(settings, store, embedder, HybridRetriever(store, embedder)), settings
    )
    upload = tmp_path / "upload" / "new_article.txt"
    upload.parent.mkdir()
    upload.write_text("Xi Jinping arrived in Moscow on Monday for a three-day state visit.\n")
    before = folder_state(corpus)

    with index_lock(settings.data_dir), pytest.raises(IndexBusyError, match="index is busy"):
        newsdesk.add_files([upload])

    assert folder_state(corpus) == before
    assert store.article_count() == 1


# -- readers ----------------------------------------------------------------------------


def _correct(answer: Answer, expected: str | None) -> bool:
    if expected is None:
        return not answer.answered and not answer.citations
    return answer.answered and expected in answer.text


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_twenty_concurrent_questions_get_their_own_answers(seeded_newsdesk: Newsdesk) -> None:
    expected_text: dict[str, str] = {}
    sequential: list[float] = []
    for question, expected in QUESTIONS:
        started = time.perf_counter()
        answer = seeded_newsdesk.ask(question)
        sequential.append(time.perf_counter() - started)
        assert _correct(answer, expected), (question, answer.text)
        expected_text[question] = answer.text
    single = statistics.median(sequential)

    start = threading.Barrier(READERS)

    def ask(i: int) -> tuple[str, Answer, float]:
        question = QUESTIONS[i % len(QUESTIONS)][0]
        start.wait(timeout=60)
        began = time.perf_counter()
        answer = seeded_newsdesk.ask(question)
        return question, answer, time.perf_counter() - began

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        results = list(pool.map(ask, range(READERS)))

    latencies = [seconds for _, _, seconds in results]
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    print(
        f"\n{READERS} concurrent questions: p50 {p50:.2f} s, p95 {p95:.2f} s "
        f"(one question alone: {single:.2f} s)"
    )
    for question, answer, _ in results:
        expected = dict(QUESTIONS)[question]
        assert _correct(answer, expected), (question, answer.text)
        # Same question, same answer: nothing leaked in from a neighbour's question.
        assert answer.text == expected_text[question], question
        assert all(f"[{c.n}]" in answer.text for c in answer.citations)
    # Readers may queue for two cores but must not be much slower than asking in turn.
    assert p95 <= 3 * READERS * single + 30, (p50, p95, single)


DATA = Path(__file__).parent / "data"
NEW_ARTICLE = sorted(p.name for p in (DATA / "corpus").glob("*.txt"))[0]


@pytest.mark.integration
@pytest.mark.slow
def test_answers_follow_an_index_run_of_another_process(tmp_path: Path, seeds_dir: Path) -> None:
    """A running Newsdesk (e.g. the chat UI) sees what `newsdesk index` changed meanwhile."""
    import os
    import subprocess
    import sys

    from index.indexer import index_corpus
    from rag.api import Newsdesk
    from rag.settings import Settings

    corpus = tmp_path / "corpus"
    shutil.copytree(seeds_dir, corpus)
    settings = Settings(
        corpus=corpus,
        data_dir=tmp_path / "data",
        llm="extractive",
        embed_backend="sentence-transformers",
    )
    index_corpus(settings)
    newsdesk = Newsdesk.from_settings(settings)
    assert newsdesk.ask("How many times has Xi met Putin in person?").answered
    (corpus / "001_f4e4b5b006eee376.txt").unlink()
    shutil.copy(DATA / "corpus" / NEW_ARTICLE, corpus / NEW_ARTICLE)
    sidecar = corpus / "_metadata.toml"
    sidecar.write_text(
        sidecar.read_text(encoding="utf-8").replace(
            'title = "Putin invites Xi to Moscow as Russia pursues alliance with China"',
            'title = "A corrected headline"',
        ),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "NEWSDESK_CORPUS": str(corpus),
        "NEWSDESK_DATA_DIR": str(settings.data_dir),
        "NEWSDESK_EMBED_BACKEND": "sentence-transformers",
    }
    done = subprocess.run(
        [sys.executable, "-m", "rag", "index"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    answer = newsdesk.ask("How many times has Xi met Putin in person?")
    assert all(p.doc_id and p.doc_id != "001_f4e4b5b006eee376" for p in answer.passages)
    assert newsdesk.status().articles == 5
    trade = newsdesk.ask("By how much did bilateral trade between China and Russia grow in 2022?")
    assert [c.title for c in trade.citations] == ["A corrected headline"]
