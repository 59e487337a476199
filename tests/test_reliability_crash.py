"""`kill -9` of a real `python -m rag index` half-way, then recovery by the next run.

The recovered index must equal a clean build of the same corpus: the same chunk ids, no
duplicates, no chunk pointing at an unknown article, every article's chunk count right, and
the vector index must still find every sampled chunk by its own vector.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from index.store import ChromaStore
from rag.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
VARIANTS = 60
PARAGRAPHS_PER_VARIANT = 12
CITIES = ("Berlin", "Lagos", "Lima", "Oslo", "Hanoi", "Quito", "Accra", "Riga", "Perth", "Dakar")
DESKS = ("foreign", "wire", "night", "Asia", "Europe", "politics", "world", "briefing")


def seed_paragraphs(seeds: Path = SEEDS) -> list[str]:
    """Prose paragraphs of the seed articles, long ones split at sentence ends."""
    paragraphs: list[str] = []
    for path in sorted(seeds.glob("0*.txt")):
        for block in re.split(r"\n", path.read_text(encoding="utf-8")):
            sentences = re.split(r"(?<=[.!?”\"])\s+(?=[A-Z“\"])", block.strip())
            for begin in range(0, len(sentences), 3):
                text = " ".join(sentences[begin : begin + 3]).strip()
                if len(text) > 150:
                    paragraphs.append(text)
    return paragraphs


def variant_article(i: int, pool: list[str]) -> str:
    """Article number `i`: seed paragraphs reworded so that no chunk repeats another's text."""
    city, desk = CITIES[i % len(CITIES)], DESKS[i % len(DESKS)]
    lines = [f"Dispatch {i} from the {city} {desk} desk on Russia and China", ""]
    for j in range(PARAGRAPHS_PER_VARIANT):
        text = pool[(i * 5 + j * 7) % len(pool)]
        sentences = re.split(r"(?<=[.!?])\s+", text)
        rotated = " ".join(sentences[i % len(sentences) :] + sentences[: i % len(sentences)])
        lines.append(
            f"Item {i}.{j} ({city}, {desk} desk, note {i * 100 + j}): {rotated} "
            f"End of item {i}.{j} filed by correspondent number {i * 31 + j}."
        )
        lines.append("")
    return "\n".join(lines)


def build_corpus(folder: Path, variants: int = VARIANTS) -> Path:
    """The seeds plus `variants` generated articles, in `folder`."""
    shutil.copytree(SEEDS, folder)
    pool = seed_paragraphs()
    for i in range(variants):
        (folder / f"variant_{i:03d}.txt").write_text(variant_article(i, pool), encoding="utf-8")
    return folder


def cli_env(data_dir: Path, corpus: Path, **extra: str) -> dict[str, str]:
    """Environment of a `python -m rag` subprocess on this data dir and corpus."""
    return {
        **os.environ,
        "NEWSDESK_DATA_DIR": str(data_dir),
        "NEWSDESK_CORPUS": str(corpus),
        "OLLAMA_HOST": "127.0.0.1:9",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        **extra,
    }


def start_index(data_dir: Path, corpus: Path, **extra: str) -> subprocess.Popen[str]:
    """Start `python -m rag index` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "rag", "index"],
        cwd=REPO,
        env=cli_env(data_dir, corpus, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def lock_holder(data_dir: Path) -> int | None:
    """Pid written into the index lock file by the writer that holds it, if any."""
    try:
        text = (data_dir / "index.lock").read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def wait_for_lock(process: subprocess.Popen[str], data_dir: Path, timeout: float) -> None:
    """Block until `process` holds the writer lock of `data_dir`."""
    deadline = time.monotonic() + timeout
    while lock_holder(data_dir) != process.pid:
        if process.poll() is not None:
            raise AssertionError(f"index ended before taking the lock: {process.stderr}")
        if time.monotonic() > deadline:
            raise AssertionError(f"index did not take the lock within {timeout} s")
        time.sleep(0.05)


def folder_bytes(folder: Path) -> int:
    """Total size of the files under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@dataclass(frozen=True)
class Snapshot:
    """What an index holds, read back through `ChromaStore`."""

    chunk_ids: tuple[str, ...]  # as listed by Chroma, duplicates kept
    chunk_count: int
    chunk_docs: dict[str, tuple[str, ...]]  # chunk id -> doc_ids carrying it
    articles: dict[str, int]  # doc_id -> recorded chunk count
    self_hits: int  # sampled chunks whose own vector finds them first
    sampled: int


def read_snapshot(data_dir: Path, corpus: Path, sample: int = 12) -> Snapshot:
    """Read the index in `data_dir` in this process (the writer must have exited)."""
    store = ChromaStore.from_settings(
        Settings.model_validate({"corpus": corpus, "data_dir": data_dir})
    )
    listed: list[str] = list(store.chunks.get(include=[])["ids"])
    metas = store.chunk_metadata()
    records = store.article_records()
    chosen = sorted(metas)[:: max(1, len(metas) // sample)][:sample]
    vectors = store.embeddings_of(chosen)
    hits = 0
    for chunk_id in chosen:
        found = store.chunks.query(query_embeddings=[vectors[chunk_id]], n_results=1, include=[])
        hits += found["ids"][0][:1] == [chunk_id]
    return Snapshot(
        chunk_ids=tuple(listed),
        chunk_count=store.chunk_count(),
        chunk_docs={i: tuple(str(m["doc_ids"]).split("|")) for i, m in metas.items()},
        articles={d: int(r.get("chunks", -1)) for d, r in records.items()},
        self_hits=hits,
        sampled=len(chosen),
    )


def snapshot(data_dir: Path, corpus: Path) -> Snapshot:
    """Read the index in `data_dir` from a fresh process.

    An embedded Chroma client caches segments per process, so a client opened before another
    process wrote to the same folder can fail ("Error finding id"); a fresh process sees the
    files as they are.
    """
    code = (
        "import dataclasses, json, sys; from pathlib import Path; "
        "from tests.test_reliability_crash import read_snapshot; "
        "print(json.dumps(dataclasses.asdict(read_snapshot(Path(sys.argv[1]), Path(sys.argv[2])))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(data_dir), str(corpus)],
        cwd=REPO,
        env=cli_env(data_dir, corpus),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return Snapshot(
        chunk_ids=tuple(raw["chunk_ids"]),
        chunk_count=raw["chunk_count"],
        chunk_docs={k: tuple(v) for k, v in raw["chunk_docs"].items()},
        articles=raw["articles"],
        self_hits=raw["self_hits"],
        sampled=raw["sampled"],
    )


def consistency_problems(snap: Snapshot) -> list[str]:
    """Everything wrong with one index on its own (empty when consistent)."""
    problems = []
    duplicates = [i for i, n in Counter(snap.chunk_ids).items() if n > 1]
    if duplicates:
        problems.append(f"duplicate chunk ids: {duplicates[:5]}")
    if snap.chunk_count != len(set(snap.chunk_ids)):
        problems.append(f"count() says {snap.chunk_count}, ids say {len(set(snap.chunk_ids))}")
    orphans = {d for docs in snap.chunk_docs.values() for d in docs} - set(snap.articles)
    if orphans:
        problems.append(f"chunks of articles that are not indexed: {sorted(orphans)[:5]}")
    carried = Counter(d for docs in snap.chunk_docs.values() for d in docs)
    wrong = {d: (n, carried.get(d, 0)) for d, n in snap.articles.items() if carried.get(d, 0) != n}
    if wrong:
        problems.append(f"article chunk counts (recorded, stored) disagree: {wrong}")
    if snap.self_hits != snap.sampled:
        problems.append(f"only {snap.self_hits}/{snap.sampled} chunks found by their own vector")
    return problems


def test_generated_corpus_has_no_repeated_chunks(tmp_path: Path) -> None:
    pool = seed_paragraphs()
    assert len(pool) > 20
    articles = [variant_article(i, pool) for i in range(VARIANTS)]
    assert len(set(articles)) == VARIANTS
    paragraphs = [p for a in articles for p in a.split("\n\n")[1:] if p.strip()]
    assert len(paragraphs) == len(set(paragraphs)) == VARIANTS * PARAGRAPHS_PER_VARIANT


@pytest.mark.timeout(900)
def test_kill_9_mid_index_is_repaired_by_the_next_run(tmp_path: Path) -> None:
    corpus = build_corpus(tmp_path / "corpus")
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"
    small_batches = {"NEWSDESK_EMBED_BATCH_SIZE": "8"}  # many small writes to interrupt

    victim = start_index(crashed, corpus, **small_batches)
    try:
        wait_for_lock(victim, crashed, timeout=240)
        started = time.monotonic()
        baseline = folder_bytes(crashed / "chroma")
        # Kill once the first batches are on disk (the store has grown), or after a while.
        while time.monotonic() - started < 240 and victim.poll() is None:
            if folder_bytes(crashed / "chroma") > baseline + 64_000:
                break
            time.sleep(0.05)
        assert victim.poll() is None, "index finished before it could be killed"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    partial = snapshot(crashed, corpus)
    # The clean build and the repairing run go side by side to save wall time.
    reference = start_index(clean, corpus)
    repair = start_index(crashed, corpus)
    for process in (reference, repair):
        _out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    repaired, wanted = snapshot(crashed, corpus), snapshot(clean, corpus)

    assert 0 < partial.chunk_count < wanted.chunk_count, "the kill did not land mid-run"
    assert consistency_problems(wanted) == []
    assert consistency_problems(repaired) == []
    assert sorted(repaired.chunk_ids) == sorted(wanted.chunk_ids)
    assert repaired.articles == wanted.articles
    assert len(wanted.articles) == VARIANTS + 5
    # A third run finds nothing to do.
    again = subprocess.run(
        [sys.executable, "-m", "rag", "index"],
        cwd=REPO,
        env=cli_env(crashed, corpus),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr
    assert " 0 added" in again.stdout and " 0 removed" in again.stdout, again.stdout
