"""Turn a corpus folder (or one uploaded file) into cleaned `Article`s with metadata."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from index.clean import clean_text
from index.load import (
    RawFile,
    assign_doc_ids,
    iter_corpus_files,
    markdown_to_text,
    read_article_file,
    relative_path,
)
from index.metadata import build_meta, read_sidecar, sidecar_entry, split_front_matter
from rag.errors import CorpusError
from rag.text import shown_path
from rag.types import Article, ArticleMeta, Skipped

DEFAULT_MAX_BYTES = 10_000_000
Sidecar = Mapping[str, Mapping[str, str]]


def content_hash(text: str, meta: ArticleMeta) -> str:
    """sha256 of the cleaned text and every metadata field (changes when either does)."""
    payload = json.dumps({"text": text, "meta": asdict(meta)}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def build_article(raw: RawFile, sidecar: Mapping[str, str] | None = None) -> Article | Skipped:
    """Extract metadata from the raw text, clean it, and assemble the `Article`.

    An article with no text left after cleaning is `Skipped`.
    """
    front_matter, body = split_front_matter(raw.text)
    if raw.fmt == "md":
        body = markdown_to_text(body)
    meta = build_meta(
        raw.doc_id,
        front_matter=front_matter,
        sidecar=sidecar or {},
        html_meta=raw.html_meta,
        raw_text=body,
        cleaned_untitled=clean_text(body),
    )
    text = clean_text(body, title=meta.title)
    if not text:
        return Skipped(raw.path, "no article text left after removing page boilerplate")
    return Article(meta=meta, text=text, path=raw.path, content_hash=content_hash(text, meta))


def load_article_file(
    path: Path,
    root: Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
    sidecar: Sidecar | None = None,
    doc_id: str | None = None,
) -> Article | Skipped:
    """Read, describe and clean one file; problems come back as `Skipped`, never raised.

    `sidecar` is the corpus's `_metadata.toml` content (see `index.metadata.read_sidecar`);
    `doc_id` defaults to the file stem.
    """
    raw = read_article_file(path, root, max_bytes, doc_id=doc_id)
    if isinstance(raw, Skipped):
        return raw
    return build_article(raw, sidecar_entry(sidecar or {}, raw.path))


def check_corpus_folder(folder: Path) -> None:
    """Raise `CorpusError` unless `folder` is an existing folder."""
    if not folder.exists():
        raise CorpusError(
            f"The corpus folder {shown_path(folder, 'NEWSDESK_CORPUS')} does not exist: "
            "create it and put articles (.txt, .md, .html) in it, or set NEWSDESK_CORPUS "
            "to the folder that holds them."
        )
    if not folder.is_dir():
        raise CorpusError(
            f"The corpus path {shown_path(folder, 'NEWSDESK_CORPUS')} is not a folder: "
            "set NEWSDESK_CORPUS to a folder of articles (.txt, .md, .html)."
        )


def load_articles(
    folder: Path, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Article], list[Skipped]]:
    """Every article of a corpus folder, and the files that were skipped with the reason.

    Raises `CorpusError` when the folder is missing or its `_metadata.toml` is broken; a
    bad article file never stops the others.
    """
    folder = Path(folder)
    check_corpus_folder(folder)
    sidecar = read_sidecar(folder)
    files = iter_corpus_files(folder)
    ids = assign_doc_ids(relative_path(path, folder) for path in files)
    articles: list[Article] = []
    skipped: list[Skipped] = []
    for path in files:
        rel = relative_path(path, folder)
        result = load_article_file(path, folder, max_bytes, sidecar, doc_id=ids[rel])
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            articles.append(result)
    return articles, skipped
