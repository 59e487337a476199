"""Sentence-aware chunking sized in the embedding model's own tokens.

LlamaIndex's `SentenceSplitter` does the splitting; this module gives it the model's
tokenizer (so a chunk never overflows MiniLM's 256-token window) and turns its nodes into
`Chunk`s with verified character offsets into the cleaned article.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

from rag.types import Article, Chunk

TokenCounter = Callable[[str], list[int]]

_WORD = re.compile(r"\w+|[^\w\s]")


def approximate_tokens(text: str) -> list[int]:
    """Token ids stand-in when no tokenizer file is at hand: one per word or symbol."""
    return [0] * len(_WORD.findall(text))


@lru_cache(maxsize=4)
def model_tokenizer(model_path: str) -> TokenCounter:
    """Tokenizer of the embedding model at `model_path` (its tokenizer.json), as a counter.

    Falls back to `approximate_tokens` when the model is not a local folder.
    """
    tokenizer_file = Path(model_path) / "tokenizer.json"
    if not tokenizer_file.is_file():
        return approximate_tokens
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    # The shipped tokenizer pads to 128 tokens, which would make every sentence look long.
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def count(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False).ids

    return count


def chunk_id_for(text: str) -> str:
    """Content hash of a chunk: the same text (a wire copy) gets the same id anywhere."""
    normalised = " ".join(text.split()).casefold()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:32]


def chunk_article(
    article: Article, *, chunk_tokens: int, overlap: int, tokenizer: TokenCounter
) -> list[Chunk]:
    """Split `article.text` into sentence-aligned chunks of at most `chunk_tokens` tokens."""
    if overlap >= chunk_tokens:
        raise ValueError("chunk overlap must be smaller than the chunk size")
    text = article.text
    if not text.strip():
        return []
    from llama_index.core import Document
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(
        chunk_size=chunk_tokens,
        chunk_overlap=overlap,
        tokenizer=tokenizer,
        include_metadata=False,
        include_prev_next_rel=False,
    )
    nodes = splitter.get_nodes_from_documents([Document(text=text, id_=article.meta.doc_id)])
    chunks: list[Chunk] = []
    cursor = 0
    for position, node in enumerate(nodes):
        chunk_text = node.get_content()
        start, end = _locate(text, chunk_text, getattr(node, "start_char_idx", None), cursor)
        cursor = start
        chunks.append(
            Chunk(
                chunk_id=chunk_id_for(chunk_text),
                doc_id=article.meta.doc_id,
                text=text[start:end],
                start=start,
                end=end,
                position=position,
            )
        )
    return chunks


def _locate(text: str, chunk_text: str, hint: int | None, cursor: int) -> tuple[int, int]:
    """Offsets of `chunk_text` in `text`, trusting the splitter's hint only when it checks out."""
    if hint is not None and text[hint : hint + len(chunk_text)] == chunk_text:
        return hint, hint + len(chunk_text)
    found = text.find(chunk_text, cursor)
    if found < 0:
        found = text.find(chunk_text)
    if found < 0:
        raise ValueError("chunk text is not a span of its article")
    return found, found + len(chunk_text)


def chunk_articles(
    articles: Sequence[Article], *, chunk_tokens: int, overlap: int, tokenizer: TokenCounter
) -> dict[str, list[Chunk]]:
    """Chunks of every article, keyed by doc_id."""
    return {
        a.meta.doc_id: chunk_article(
            a, chunk_tokens=chunk_tokens, overlap=overlap, tokenizer=tokenizer
        )
        for a in articles
    }
