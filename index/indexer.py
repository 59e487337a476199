"""Bring the store in line with the corpus folder: the whole ingest pipeline in one call.

Every run reconciles from scratch (load, clean, chunk, then compare content-hash ids with
what the store holds), so it is idempotent and a run that was killed half-way is repaired
by the next one: unchanged chunks cost nothing, new ones are embedded, stale ones deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.chunk import chunk_articles, model_tokenizer
from index.store import ChromaStore, article_metadata, chunk_metadata_for
from rag.errors import IndexBusyError
from rag.protocols import Embedder
from rag.settings import Settings
from rag.types import Article, Skipped

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


@dataclass(frozen=True)
class IndexReport:
    """What an index run found and did."""

    articles: int
    chunks: int
    added: int
    unchanged: int
    removed: int
    updated: int
    articles_changed: tuple[str, ...] = ()
    articles_removed: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    texts: dict[str, str]  # chunk_id -> text
    metadata: dict[str, dict[str, Any]]  # chunk_id -> desired metadata
    chunk_counts: dict[str, int]  # doc_id -> number of chunks


@contextlib.contextmanager
def index_lock(data_dir: Path, wait_seconds: float = 10.0) -> Iterator[None]:
    """Hold the writer lock of `data_dir`, or raise `IndexBusyError` after `wait_seconds`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "index.lock", "a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexBusyError() from None
                time.sleep(0.1)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def corpus_fingerprint(folder: Path, settings: Settings, model_name: str) -> str:
    """A hash of every corpus file's path, size and modification time, the sidecar, and
    the settings that shape chunks: equal fingerprints mean nothing to re-index."""
    from index.load import iter_corpus_files, relative_path

    digest = hashlib.sha256()
    digest.update(
        f"{settings.chunk_tokens}|{settings.chunk_overlap}|{settings.max_file_bytes}|"
        f"{model_name}".encode()
    )
    folder = Path(folder)
    sidecar = folder / "_metadata.toml"
    extra = [sidecar] if sidecar.is_file() else []
    for path in [*iter_corpus_files(folder), *extra]:
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"\n{relative_path(path, folder)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def plan_chunks(articles: list[Article], settings: Settings) -> _Plan:
    """Chunk every article and merge identical chunks (wire copies) into one entry."""
    tokenizer = model_tokenizer(settings.embed_model)
    by_doc = chunk_articles(
        articles,
        chunk_tokens=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
        tokenizer=tokenizer,
    )
    metas = {a.meta.doc_id: a.meta for a in articles}
    texts: dict[str, str] = {}
    carriers: dict[str, list[tuple[str, int, int, int]]] = {}
    for doc_id, chunks in by_doc.items():
        for chunk in chunks:
            texts.setdefault(chunk.chunk_id, chunk.text)
            seen = carriers.setdefault(chunk.chunk_id, [])
            if all(c[0] != doc_id for c in seen):
                seen.append((doc_id, chunk.start, chunk.end, chunk.position))
    metadata = {}
    for chunk_id, carried_by in carriers.items():
        # The earliest-published carrier is the primary source of a wire copy.
        carried_by.sort(key=lambda c: (metas[c[0]].published or "9999", c[0]))
        metadata[chunk_id] = chunk_metadata_for(metas[carried_by[0][0]], carried_by)
    counts = {doc_id: len(chunks) for doc_id, chunks in by_doc.items()}
    return _Plan(texts=texts, metadata=metadata, chunk_counts=counts)


def index_corpus(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    store: ChromaStore | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    corpus: Path | None = None,
    lock_wait: float = 10.0,
    locked: bool = False,
) -> IndexReport:
    """Index `corpus` (default: settings.corpus) into the store; see the module docstring.

    Raises `IndexBusyError` when another writer holds the lock for `lock_wait` seconds.
    """
    from index.articles import load_articles

    started = time.perf_counter()
    timings: dict[str, float] = {}
    store = store or ChromaStore.from_settings(settings)
    # `locked`: the caller holds the writer lock already (a second flock would block).
    lock = contextlib.nullcontext() if locked else index_lock(settings.data_dir, lock_wait)
    with lock:
        if rebuild:
            store.drop()
        folder = Path(corpus or settings.corpus)
        model_name = embedder.model_name if embedder else _label(settings)
        t = time.perf_counter()
        if folder.is_dir():
            fingerprint = corpus_fingerprint(folder, settings, model_name)
            if store.corpus_record()[0] == fingerprint:
                # Nothing changed since the last complete run: skip cleaning and chunking.
                chunks = store.chunk_count()
                return IndexReport(
                    articles=store.article_count(),
                    chunks=chunks,
                    added=0,
                    unchanged=chunks,
                    removed=0,
                    updated=0,
                    skipped=store.corpus_record()[1],
                    seconds=time.perf_counter() - started,
                    timings={"fingerprint": time.perf_counter() - t},
                )
        articles, skipped = load_articles(folder, settings.max_file_bytes)
        timings["load_clean"] = time.perf_counter() - t

        t = time.perf_counter()
        plan = plan_chunks(articles, settings)
        timings["chunk"] = time.perf_counter() - t

        t = time.perf_counter()
        store.check_model(model_name)
        existing = store.chunk_metadata()
        wanted = set(plan.texts)
        new_ids = sorted(wanted - set(existing))
        stale_ids = sorted(set(existing) - wanted)
        changed_ids = sorted(i for i in wanted & set(existing) if existing[i] != plan.metadata[i])
        timings["diff"] = time.perf_counter() - t

        dimension = None
        if new_ids or changed_ids or stale_ids:
            store.record_corpus(None, ())  # a run cut short here leaves no fingerprint
        if new_ids:
            embedder = embedder or _default_embedder(settings)
            dimension = embedder.dimension
            store.check_model(model_name, dimension)
            t = time.perf_counter()
            timings["embed"] = _embed_and_write(
                store, embedder, plan, new_ids, settings.embed_batch_size, progress
            )
            timings["embed_write"] = time.perf_counter() - t
        if changed_ids:
            vectors = store.embeddings_of(changed_ids)
            store.put_chunks(
                changed_ids,
                [plan.texts[i] for i in changed_ids],
                [plan.metadata[i] for i in changed_ids],
                [vectors[i] for i in changed_ids],
            )
        store.delete_chunks(stale_ids)

        t = time.perf_counter()
        records = store.article_records()
        current = {a.meta.doc_id: a for a in articles}
        changed_articles = [
            a
            for a in articles
            if records.get(a.meta.doc_id)
            != article_metadata(a, plan.chunk_counts.get(a.meta.doc_id, 0))
        ]
        removed_articles = sorted(set(records) - set(current))
        store.put_articles(changed_articles, plan.chunk_counts)
        store.delete_articles(removed_articles)
        if new_ids or changed_ids or stale_ids or changed_articles or removed_articles:
            store.record_index_run(model_name, dimension)
        store.record_corpus(corpus_fingerprint(folder, settings, model_name), skipped)
        timings["articles"] = time.perf_counter() - t

    return IndexReport(
        articles=len(articles),
        chunks=len(wanted),
        added=len(new_ids),
        unchanged=len(wanted) - len(new_ids) - len(changed_ids),
        removed=len(stale_ids),
        updated=len(changed_ids),
        articles_changed=tuple(a.meta.doc_id for a in changed_articles),
        articles_removed=tuple(removed_articles),
        skipped=tuple(skipped),
        seconds=time.perf_counter() - started,
        timings=timings,
    )


def _embed_and_write(
    store: ChromaStore,
    embedder: Embedder,
    plan: _Plan,
    ids: list[str],
    batch_size: int,
    progress: Progress | None,
) -> float:
    """Embed and write `ids` batch by batch; return the seconds spent embedding.

    Each batch is written on a second thread while the next one is embedded (both release
    the GIL), and written whole, so that a run killed half-way keeps what it finished.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    step = max(batch_size, 1) * 2
    embedding = 0.0
    pending: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma-writer") as writer:
        for begin in range(0, len(ids), step):
            batch = ids[begin : begin + step]
            t = time.perf_counter()
            vectors = embedder.embed_documents([plan.texts[i] for i in batch])
            embedding += time.perf_counter() - t
            if pending is not None:
                pending.result()  # one batch in flight at most; errors surface here
            pending = writer.submit(
                store.put_chunks,
                batch,
                [plan.texts[i] for i in batch],
                [plan.metadata[i] for i in batch],
                vectors,
            )
            if progress:
                progress(begin + len(batch), len(ids))
        if pending is not None:
            pending.result()
    return embedding


def _label(settings: Settings) -> str:
    from index.embed import model_label

    return model_label(settings.embed_model)


def _default_embedder(settings: Settings) -> Embedder:
    from index.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder.from_settings(settings)
