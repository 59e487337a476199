"""A stand-in for `rag.api.Newsdesk` over the real seed texts, for UI tests.

Answers are built from the seed files themselves: every quote is a real sentence and every
offset is found with `str.find` in the file text, which `article_text` returns.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.indexer import IndexReport
from rag.api import IndexedArticle, Status
from rag.errors import NewsdeskError, QuestionError
from rag.settings import Settings
from rag.types import Answer, ArticleMeta, Citation, Passage, Skipped, TextDelta

SEED_META: dict[str, tuple[str | None, str | None]] = {
    # doc_id: (outlet, published)
    "000_34549fd5e95e4f81": ("n-tv", "2022-12-30"),
    "001_f4e4b5b006eee376": ("Washington Examiner", "2022-12-30"),
    "002_78e050b3588c034e": ("India Today", "2022-12-31"),
    "003_365e933e9b9305cd": ("Deutsche Welle", "2023-03-17"),
    "004_1a874dfea383ef07": (None, None),
}

XI_PUTIN_QUESTION = "When did Xi and Putin last meet?"

_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]?")
_WORD_RE = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are did does for from has have how in is it of on the to was were what when "
    "where which who why will with".split()
)


@dataclass(frozen=True)
class _Doc:
    meta: ArticleMeta
    text: str


def _words(text: str) -> set[str]:
    return {w for w in _WORD_RE.findall(text.lower()) if w not in _STOP}


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans, offset = [], 0
    for line in text.splitlines(keepends=True):
        body = line.strip()
        if body:
            start = offset + line.index(body)
            spans.append((start, start + len(body)))
        offset += len(line)
    return spans


def _title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if len(line.strip()) > 12:
            return line.strip()
    return fallback


class FakeNewsdesk:
    """Same methods as `Newsdesk`; records every call to `stream` for assertions."""

    def __init__(
        self,
        seeds_dir: Path,
        *,
        extra: Sequence[tuple[ArticleMeta, str]] = (),
        delay: float = 0.0,
        fail_with: NewsdeskError | None = None,
        max_question_chars: int = 2000,
        canned: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self._docs: dict[str, _Doc] = {}
        for path in sorted(seeds_dir.glob("*.txt")):
            text = path.read_text(encoding="utf-8")
            outlet, published = SEED_META.get(path.stem, (None, None))
            meta = ArticleMeta(path.stem, _title(text, path.stem), outlet, published)
            self._docs[path.stem] = _Doc(meta, text)
        for meta, text in extra:
            self._docs[meta.doc_id] = _Doc(meta, text)
        self.delay = delay
        self.fail_with = fail_with
        self.max_question_chars = max_question_chars
        self.canned = dict(canned or {})
        self.added_paths: list[Path] = []
        self.calls: list[tuple[str, list[dict[str, str]]]] = []
        self._lock = threading.Lock()

    # --- answers -------------------------------------------------------------------------

    def _passage(self, doc_id: str, start: int, end: int, score: float) -> Passage:
        doc = self._docs[doc_id]
        return Passage(
            chunk_id=f"{doc_id}:{start}",
            doc_id=doc_id,
            title=doc.meta.title,
            source=doc.meta.source,
            published=doc.meta.published,
            text=doc.text[start:end],
            start=start,
            end=end,
            score=score,
        )

    def _paragraph_of(self, doc_id: str, offset: int) -> tuple[int, int]:
        for start, end in _paragraphs(self._docs[doc_id].text):
            if start <= offset < end:
                return start, end
        raise ValueError(f"offset {offset} outside {doc_id}")

    def cite(self, n: int, doc_id: str, quote: str, *, supported: bool = True) -> Citation:
        """A citation of `quote`, located with `str.find` in the article text."""
        doc = self._docs[doc_id]
        start = doc.text.find(quote)
        if start < 0:
            raise ValueError(f"{quote!r} is not in {doc_id}")
        return Citation(
            n=n,
            doc_id=doc_id,
            title=doc.meta.title,
            source=doc.meta.source,
            published=doc.meta.published,
            quote=quote,
            start=start,
            end=start + len(quote),
            score=0.9 if supported else 0.2,
            supported=supported,
        )

    def _answer_from(
        self, text: str, citations: Sequence[Citation], *, extra_passages: int = 1
    ) -> Answer:
        passages: list[Passage] = []
        seen: set[tuple[str, int]] = set()
        for c in citations:
            start, end = self._paragraph_of(c.doc_id, c.start)
            if (c.doc_id, start) not in seen:
                seen.add((c.doc_id, start))
                passages.append(self._passage(c.doc_id, start, end, c.score))
        for doc_id in self._docs:
            if extra_passages <= 0:
                break
            if any(p.doc_id == doc_id for p in passages):
                continue
            start, end = _paragraphs(self._docs[doc_id].text)[1]
            passages.append(self._passage(doc_id, start, end, 0.1))
            extra_passages -= 1
        return Answer(
            text=text,
            answered=bool(citations),
            mode="extractive",
            citations=tuple(citations),
            model=None,
            notes=("Ollama is not running, so the answer quotes the articles directly.",),
            timings={"retrieve": 0.01, "generate": 0.0},
            passages=tuple(passages),
        )

    def xi_putin_answer(self) -> Answer:
        """The answer to 'When did Xi and Putin last meet?', quoting two seeds."""
        c1 = self.cite(
            1,
            "001_f4e4b5b006eee376",
            "The two leaders met in September on the sidelines of the Shanghai Cooperation "
            "Organization meeting in Uzbekistan",
        )
        c2 = self.cite(
            2,
            "000_34549fd5e95e4f81",
            "the two last met at a summit in Uzbekistan in the fall",
        )
        text = (
            "Xi and Putin last met in person in September 2022, on the sidelines of the "
            "Shanghai Cooperation Organization summit in Uzbekistan [1][2]."
        )
        return self._answer_from(text, (c1, c2))

    def best_sentence(self, question: str) -> tuple[str, str] | None:
        """The (doc_id, sentence) sharing most words with the question."""
        wanted = _words(question)
        best: tuple[int, str, str] | None = None
        for doc_id, doc in self._docs.items():
            for match in _SENTENCE_RE.finditer(doc.text):
                sentence = match.group().strip()
                score = len(wanted & _words(sentence))
                if score and (best is None or score > best[0]):
                    best = (score, doc_id, sentence)
        return (best[1], best[2]) if best else None

    def answer(self, question: str) -> Answer:
        """The canned (question -> doc_id, quote) or overlap-picked answer to `question`."""
        if question.strip().lower() == XI_PUTIN_QUESTION.lower():
            return self.xi_putin_answer()
        found = self.canned.get(question) or self.best_sentence(question)
        if found is None:
            return Answer(
                text="The indexed articles do not say.",
                answered=False,
                mode="extractive",
                notes=("No passage matched the question.",),
            )
        doc_id, sentence = found
        return self._answer_from(f"{sentence} [1]", (self.cite(1, doc_id, sentence),))

    def stream(
        self,
        question: str,
        history: Sequence[dict[str, str]] | None = None,
        as_of: str | None = None,
        *,
        k: int | None = None,
        llm: str | None = None,
    ) -> Iterator[TextDelta | Answer]:
        """Yield the answer text word by word, then the `Answer`."""
        if not question.strip():
            raise QuestionError("The question is empty: type a question about the articles.")
        if len(question) > self.max_question_chars:
            raise QuestionError(
                f"The question has {len(question)} characters, more than the "
                f"{self.max_question_chars} allowed: shorten it."
            )
        with self._lock:
            self.calls.append((question, [dict(m) for m in history or ()]))
        answer = self.answer(question)
        words = answer.text.split(" ")
        for i, word in enumerate(words):
            if self.delay:
                time.sleep(self.delay / len(words))
            yield TextDelta(word if i == 0 else " " + word)
            if self.fail_with is not None and i == 2:
                raise self.fail_with
        yield answer

    def ask(
        self,
        question: str,
        history: Sequence[dict[str, str]] | None = None,
        as_of: str | None = None,
    ) -> Answer:
        """The final `Answer` of `stream`."""
        events = list(self.stream(question, history, as_of))
        final = events[-1]
        assert isinstance(final, Answer)
        return final

    # --- index -----------------------------------------------------------------------------

    def status(self) -> Status:
        """Extractive mode over the seeds, as when Ollama is not running."""
        chunks = sum(len(_paragraphs(d.text)) for d in self._docs.values())
        return Status(
            mode="extractive",
            model=None,
            mode_note="Ollama is not running at http://127.0.0.1:11434: start it with "
            "`ollama serve` and run `ollama pull qwen2.5:3b`.",
            articles=len(self._docs),
            chunks=chunks,
            last_indexed="2025-01-01T12:00:00+00:00",
        )

    def articles(self) -> list[IndexedArticle]:
        """Every article, newest first."""
        docs = sorted(self._docs.values(), key=lambda d: d.meta.published or "", reverse=True)
        return [
            IndexedArticle(
                doc_id=d.meta.doc_id,
                title=d.meta.title,
                source=d.meta.source,
                published=d.meta.published,
                chunks=len(_paragraphs(d.text)),
                path=f"{d.meta.doc_id}.txt",
            )
            for d in docs
        ]

    def article_text(self, doc_id: str) -> str:
        """The text every offset points into."""
        try:
            return self._docs[doc_id].text
        except KeyError:
            raise NewsdeskError(f"No article {doc_id} is indexed.") from None

    def add_files(self, paths: Sequence[Path]) -> IndexReport:
        """Index the given files (as if copied into the corpus folder); one chunk a paragraph."""
        added, unchanged, changed, skipped = 0, 0, [], []
        self.added_paths = [Path(p) for p in paths]
        for path in paths:
            text = path.read_text(encoding="utf-8", errors="replace")
            if not text.strip():
                skipped.append(Skipped(path.name, "the file holds no text"))
                continue
            doc_id = path.stem
            with self._lock:
                if doc_id in self._docs and self._docs[doc_id].text == text:
                    unchanged += len(_paragraphs(text))
                    continue
                self._docs[doc_id] = _Doc(ArticleMeta(doc_id, _title(text, doc_id)), text)
            added += len(_paragraphs(text))
            changed.append(doc_id)
        chunks = sum(len(_paragraphs(d.text)) for d in self._docs.values())
        return IndexReport(
            articles=len(self._docs),
            chunks=chunks,
            added=added,
            unchanged=unchanged,
            removed=0,
            updated=0,
            articles_changed=tuple(changed),
            skipped=tuple(skipped),
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_app(newsdesk: object, settings: Settings) -> Iterator[str]:
    """Serve the chat UI for `newsdesk` on a free loopback port; yield its URL."""
    from ui.app import build_app, serve

    settings = settings.model_copy(update={"host": "127.0.0.1", "port": free_port()})
    app = build_app(newsdesk, settings)  # type: ignore[arg-type]
    url = serve(app, settings, block=False, quiet=True)
    try:
        yield url
    finally:
        app.close()


def real_newsdesk(folder: Path, seeds_dir: Path) -> tuple[Any, Settings]:
    """The real pipeline in extractive mode over a copy of the seeds indexed in `folder`."""
    from index.indexer import index_corpus
    from rag.api import Newsdesk

    shutil.copytree(seeds_dir, folder / "corpus")
    settings = Settings.model_validate(
        {"corpus": folder / "corpus", "data_dir": folder / "data", "llm": "extractive"}
    )
    index_corpus(settings)
    return Newsdesk.from_settings(settings), settings
