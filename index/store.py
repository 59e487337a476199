"""The Chroma store: one collection of chunks (with embeddings) and one of articles.

Chunks are written and searched through LlamaIndex's `ChromaVectorStore`; the raw Chroma
collection is used only for what that class does not offer (listing ids and metadata,
collection-level records of the embedding model). Articles (cleaned text and metadata) live
in a second collection so that a Chroma server holds everything an answer needs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rag.errors import EmbeddingMismatchError, StoreUnavailableError
from rag.settings import Settings
from rag.text import shown_path
from rag.types import Article, ArticleMeta, Skipped

# Chroma metadata values cannot be None; this marks "unknown" in string fields.
_NONE = ""
_GET_PAGE = 5000


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back from the store."""

    chunk_id: str
    text: str
    metadata: dict[str, Any]


def date_key(published: str | None) -> int:
    """ISO date -> sortable int (20221230); 0 when unknown."""
    if not published:
        return 0
    return int(published[:10].replace("-", ""))


def open_client(settings: Settings) -> Any:
    """A Chroma client: embedded in DATA_DIR, or HTTP when NEWSDESK_CHROMA_URL is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    try:
        if settings.chroma_url:
            from urllib.parse import urlparse

            url = urlparse(settings.chroma_url)
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception as exc:
        where = settings.chroma_url or shown_path(settings.chroma_path, "NEWSDESK_DATA_DIR")
        raise StoreUnavailableError(
            f"Cannot open the Chroma store at {where} ({type(exc).__name__}): check that the "
            "server runs (`chroma run --path DIR`) or unset NEWSDESK_CHROMA_URL."
        ) from exc


class ChromaStore:
    """Chunks and articles of one Newsdesk index."""

    def __init__(self, client: Any, collection: str, *, settings: Settings | None = None) -> None:
        if not collection:
            raise ValueError("collection name must not be empty")
        self.client = client
        self.name = collection
        self._settings = settings
        self._chunks: Any = None
        self._articles: Any = None
        self._seen_run: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ChromaStore:
        """The store configured by `settings`."""
        return cls(open_client(settings), settings.collection, settings=settings)

    def sync(self) -> bool:
        """Reopen an embedded store that another process has re-indexed; True if it did.

        An embedded Chroma client keeps its vector segments in memory and does not see
        another process's writes (it can even return ids whose rows are gone). The index
        run time, read fresh from the store, tells when that happened.
        """
        if self._settings is None or self._settings.chroma_url:
            return False  # a Chroma server is the one copy; nothing to reload
        try:
            current = (self.client.get_collection(self.name).metadata or {}).get("last_indexed")
        except Exception:  # no collection yet
            return False
        if self._seen_run is None or current == self._seen_run:
            self._seen_run = current
            return False
        self._seen_run = current
        from chromadb.api.shared_system_client import SharedSystemClient

        # Drop only this folder's cached system (Chroma shares one per path per process).
        path = str(self._settings.chroma_path)
        system = SharedSystemClient._identifier_to_system.pop(path, None)
        if system is not None:
            with contextlib.suppress(Exception):
                system.stop()
        self.client = open_client(self._settings)
        self._chunks = self._articles = None
        return True

    # -- collections -----------------------------------------------------------------

    @property
    def chunks(self) -> Any:
        """The raw Chroma collection of chunks (cosine space)."""
        if self._chunks is None:
            self._chunks = self.client.get_or_create_collection(
                self.name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        return self._chunks

    @property
    def article_collection(self) -> Any:
        """The raw Chroma collection of article records (1-d placeholder vectors)."""
        if self._articles is None:
            self._articles = self.client.get_or_create_collection(
                f"{self.name}_articles", embedding_function=None
            )
        return self._articles

    def vector_store(self) -> Any:
        """LlamaIndex's view of the chunk collection."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.chunks)

    def drop(self) -> None:
        """Delete both collections (for `newsdesk index --rebuild`)."""
        for name in (self.name, f"{self.name}_articles"):
            with contextlib.suppress(Exception):  # absent already
                self.client.delete_collection(name)
        self._chunks = self._articles = None

    # -- the embedding model record ---------------------------------------------------

    def model_record(self) -> tuple[str | None, int | None]:
        """Embedding model name and dimension the chunks were written with."""
        meta = self.chunks.metadata or {}
        dim = meta.get("embed_dim")
        return meta.get("embed_model"), int(dim) if dim else None

    def check_model(self, model_name: str, dimension: int | None = None) -> None:
        """Refuse to mix embedding models in one index."""
        stored_name, stored_dim = self.model_record()
        if stored_name and stored_name != model_name:
            raise EmbeddingMismatchError(stored_name, model_name)
        if stored_dim and dimension and stored_dim != dimension:
            raise EmbeddingMismatchError(
                f"{stored_name} ({stored_dim} dimensions)", f"{model_name} ({dimension})"
            )

    def record_index_run(self, model_name: str, dimension: int | None) -> None:
        """Remember the model and the time of this index run on the chunk collection."""
        meta = {
            key: value
            for key, value in (self.chunks.metadata or {}).items()
            if not key.startswith("hnsw:")
        }
        meta.update({"embed_model": model_name, "last_indexed": _now_iso()})
        if dimension:
            meta["embed_dim"] = int(dimension)
        self.chunks.modify(metadata=meta)
        self._seen_run = meta["last_indexed"]  # our own write: nothing to reload

    def corpus_record(self) -> tuple[str | None, tuple[Skipped, ...]]:
        """Fingerprint of the corpus at the last complete run, and the files it skipped."""
        meta = self.chunks.metadata or {}
        skipped = tuple(Skipped(p, r) for p, r in json.loads(meta.get("skipped") or "[]"))
        return meta.get("corpus_fingerprint") or None, skipped

    def record_corpus(self, fingerprint: str | None, skipped: Sequence[Skipped]) -> None:
        """Remember the corpus fingerprint (None: unknown, the next run checks everything)."""
        meta = {
            key: value
            for key, value in (self.chunks.metadata or {}).items()
            if not key.startswith("hnsw:")
        }
        meta["corpus_fingerprint"] = fingerprint or ""
        meta["skipped"] = json.dumps([[s.path, s.reason] for s in skipped])
        self.chunks.modify(metadata=meta)

    def last_indexed(self) -> str | None:
        """ISO time of the last index run."""
        return (self.chunks.metadata or {}).get("last_indexed")

    # -- chunks -----------------------------------------------------------------------

    def chunk_metadata(self) -> dict[str, dict[str, Any]]:
        """Metadata of every stored chunk, by id (no documents, no vectors)."""
        return {c.chunk_id: c.metadata for c in self._iter_chunks(include=["metadatas"])}

    def all_chunks(self) -> list[StoredChunk]:
        """Every chunk with its text and metadata (for the keyword index)."""
        return list(self._iter_chunks(include=["documents", "metadatas"]))

    def _iter_chunks(self, include: list[str]) -> Iterable[StoredChunk]:
        offset = 0
        while True:
            page = self.chunks.get(include=include, limit=_GET_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            documents = page.get("documents") or [""] * len(ids)
            metadatas = page.get("metadatas") or [{}] * len(ids)
            for chunk_id, text, meta in zip(ids, documents, metadatas, strict=True):
                yield StoredChunk(chunk_id, text or "", _public_metadata(meta or {}))
            if len(ids) < _GET_PAGE:
                return
            offset += _GET_PAGE

    def chunk_count(self) -> int:
        """Number of stored chunks."""
        return int(self.chunks.count())

    def embeddings_of(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored vectors of `ids` (to rewrite metadata without re-embedding)."""
        if not ids:
            return {}
        page = self.chunks.get(ids=list(ids), include=["embeddings"])
        return {
            i: list(map(float, e)) for i, e in zip(page["ids"], page["embeddings"], strict=True)
        }

    def put_chunks(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        embeddings: Sequence[Sequence[float]],
    ) -> None:
        """Write chunks (replacing any with the same ids) through the LlamaIndex store."""
        if not ids:
            return
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        # LlamaIndex writes the source document's id into the "doc_id" metadata key, so
        # the article is linked as the node's source to keep that key right.
        nodes = [
            TextNode(
                id_=chunk_id,
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=meta["doc_id"])},
                text=text,
                metadata=meta,
                embedding=list(embedding),
                start_char_idx=int(meta["start"]),
                end_char_idx=int(meta["end"]),
                excluded_embed_metadata_keys=list(meta),
                excluded_llm_metadata_keys=list(meta),
            )
            for chunk_id, text, meta, embedding in zip(
                ids, texts, metadatas, embeddings, strict=True
            )
        ]
        self.chunks.delete(ids=list(ids))
        self.vector_store().add(nodes)

    def delete_chunks(self, ids: Sequence[str]) -> None:
        """Remove chunks by id."""
        if ids:
            self.chunks.delete(ids=list(ids))

    # -- articles ---------------------------------------------------------------------

    def article_records(self) -> dict[str, dict[str, Any]]:
        """Metadata of every stored article, by doc_id."""
        page = self.article_collection.get(include=["metadatas"])
        return {i: dict(m or {}) for i, m in zip(page["ids"], page["metadatas"], strict=True)}

    def put_articles(self, articles: Sequence[Article], chunk_counts: dict[str, int]) -> None:
        """Write article records (text + metadata)."""
        if not articles:
            return
        self.article_collection.upsert(
            ids=[a.meta.doc_id for a in articles],
            documents=[a.text for a in articles],
            embeddings=[[0.0] for _ in articles],
            metadatas=[article_metadata(a, chunk_counts.get(a.meta.doc_id, 0)) for a in articles],
        )

    def delete_articles(self, doc_ids: Sequence[str]) -> None:
        """Remove article records."""
        if doc_ids:
            self.article_collection.delete(ids=list(doc_ids))

    def article_text(self, doc_id: str) -> str:
        """Cleaned text of one article ('' when unknown)."""
        page = self.article_collection.get(ids=[doc_id], include=["documents"])
        documents = page.get("documents") or []
        return documents[0] if documents else ""

    def article_metas(self) -> list[ArticleMeta]:
        """Metadata of every article, newest first."""
        records = self.article_records()
        metas = [meta_from_record(doc_id, rec) for doc_id, rec in records.items()]
        return sorted(metas, key=lambda m: (m.published or "", m.doc_id), reverse=True)

    def articles(self) -> list[Any]:
        """Articles for listing (rag.api.IndexedArticle), newest first."""
        from rag.api import IndexedArticle

        records = self.article_records()
        listed = [
            IndexedArticle(
                doc_id=doc_id,
                title=str(rec.get("title") or doc_id),
                source=rec.get("source") or None,
                published=rec.get("published") or None,
                chunks=int(rec.get("chunks", 0)),
                path=str(rec.get("path", "")),
            )
            for doc_id, rec in records.items()
        ]
        return sorted(listed, key=lambda a: (a.published or "", a.doc_id), reverse=True)

    def article_count(self) -> int:
        """Number of stored articles."""
        return int(self.article_collection.count())


def article_metadata(article: Article, chunks: int) -> dict[str, Any]:
    """Chroma-safe record of an article."""
    meta = article.meta
    return {
        "title": meta.title,
        "source": meta.source or _NONE,
        "published": meta.published or _NONE,
        "published_ts": date_key(meta.published),
        "date_source": meta.date_source or _NONE,
        "url": meta.url or _NONE,
        "author": meta.author or _NONE,
        "path": article.path,
        "content_hash": article.content_hash,
        "chunks": chunks,
    }


def meta_from_record(doc_id: str, record: dict[str, Any]) -> ArticleMeta:
    """ArticleMeta back from a stored record."""
    return ArticleMeta(
        doc_id=doc_id,
        title=str(record.get("title") or doc_id),
        source=record.get("source") or None,
        published=record.get("published") or None,
        date_source=record.get("date_source") or None,
        url=record.get("url") or None,
        author=record.get("author") or None,
    )


def chunk_metadata_for(
    meta: ArticleMeta, carriers: Sequence[tuple[str, int, int, int]]
) -> dict[str, Any]:
    """Chroma-safe metadata of a chunk; `carriers` = (doc_id, start, end, position) each."""
    _, start, end, position = carriers[0]
    return {
        "doc_id": meta.doc_id,
        "doc_ids": "|".join(c[0] for c in carriers),
        "carriers": json.dumps([list(c) for c in carriers]),
        "title": meta.title,
        "source": meta.source or _NONE,
        "published": meta.published or _NONE,
        "published_ts": date_key(meta.published),
        "start": start,
        "end": end,
        "position": position,
    }


_LLAMA_KEYS = ("_node_content", "_node_type", "document_id", "ref_doc_id")


def _public_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in _LLAMA_KEYS}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
