"""The answer pipeline: question -> retrieval -> (Ollama | extractive) -> checked citations.

`build_pipeline(settings)` wires the real parts; tests build `Pipeline` with fakes.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from index.store import ChromaStore
from rag.citations import drop_invalid_markers, split_claims, verify_claims
from rag.conflicts import Dated, find_conflicts
from rag.errors import CorpusError, IndexMissingError, OllamaError, QuestionError
from rag.extractive import NO_ANSWER, Scored, select_sentences
from rag.protocols import Embedder, Generator
from rag.retrieve import HybridRetriever, is_temporal
from rag.settings import Settings
from rag.text import shown_path
from rag.types import Answer, Citation, Passage, RetrievalFilters, TextDelta

History = Sequence[dict[str, str]]
ALLOWED_SUFFIXES = (".txt", ".md", ".html", ".htm")
_SENTENCE_CACHE = 50_000
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_REFUSAL = re.compile(r"the articles (don['’]t|do not) (say|answer|mention)", re.IGNORECASE)


def clean_question(question: str, max_chars: int) -> str:
    """The question with control characters removed; raise `QuestionError` if unusable."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    cleaned = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in question
    )
    cleaned = " ".join(_TAG.sub(" ", cleaned).split())
    if not cleaned:
        raise QuestionError("The question is empty: type a question about the articles.")
    if len(cleaned) > max_chars:
        raise QuestionError(
            f"The question is {len(cleaned):,} characters long; the limit is {max_chars:,}. "
            "Shorten it."
        )
    return cleaned


def parse_as_of(as_of: str | date | None) -> str | None:
    """Validate an `as_of` date and return it as YYYY-MM-DD."""
    if as_of is None or as_of == "":
        return None
    if isinstance(as_of, date):
        return as_of.isoformat()
    try:
        return date.fromisoformat(str(as_of).strip()).isoformat()
    except ValueError:
        raise QuestionError(f"as_of must be a date like 2023-03-17, not {as_of!r}.") from None


def human_date(iso: str | None) -> str:
    """2022-12-30 -> '30 Dec 2022'."""
    if not iso:
        return "an unknown date"
    try:
        d = date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{d.day} {d.strftime('%b %Y')}"


@dataclass
class Pipeline:
    """The parts that answer a question, passed in explicitly."""

    settings: Settings
    store: ChromaStore
    embedder: Embedder
    retriever: HybridRetriever
    generator: Generator | None = None
    _newest: tuple[int, str | None] | None = field(default=None, repr=False)
    _sentence_vectors: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- public -----------------------------------------------------------------------

    def stream(
        self,
        question: str,
        *,
        history: History | None = None,
        as_of: str | None = None,
        k: int | None = None,
        llm: str | None = None,
    ) -> Iterator[TextDelta | Answer]:
        """Yield text deltas, then the final `Answer` (see `rag.api.Newsdesk.stream`).

        The final Answer's text is what counts: when a generated answer fails half-way in
        auto mode, the extractive answer that replaces it follows the deltas already sent.
        """
        started = time.perf_counter()
        timings: dict[str, float] = {}
        question = clean_question(question, self.settings.max_question_chars)
        as_of = parse_as_of(as_of)
        k = k or self.settings.top_k
        if k < 1 or k > 50:
            raise QuestionError("k must be between 1 and 50.")
        mode = llm or self.settings.llm
        if mode not in ("auto", "ollama", "extractive"):
            raise QuestionError(f"llm must be auto, ollama or extractive, not {mode!r}.")
        self.store.sync()
        if self.store.article_count() == 0:
            raise IndexMissingError(
                self.settings.chroma_url or shown_path(self.settings.data_dir, "NEWSDESK_DATA_DIR")
            )

        notes: list[str] = []
        generator = self._usable_generator(mode, notes)
        standalone = self._condense(question, history or [], generator, notes)

        t = time.perf_counter()
        filters = RetrievalFilters(published_to=as_of) if as_of else None
        passages = self.retriever.retrieve(standalone, k=k, filters=filters)
        timings["retrieve"] = _ms(t)
        today = as_of or self.newest_date()

        if generator is not None and passages:
            t = time.perf_counter()
            text = ""
            try:
                for delta in self._generate(generator, standalone, passages, today, history):
                    text += delta
                    yield TextDelta(delta)
            except OllamaError as exc:
                if mode == "ollama":
                    raise
                notes.append(f"Generated answer failed, so this one is extractive: {exc}")
                generator = None
            timings["generate"] = _ms(t)
            if generator is not None:
                answer = self._checked_answer(text, passages, generator.model_name, notes)
                yield self._finish(answer, timings, started)
                return

        t = time.perf_counter()
        answer = self._extractive_answer(standalone, passages, notes)
        timings["extract"] = _ms(t)
        yield TextDelta(answer.text)
        yield self._finish(answer, timings, started)

    def similarity(self, claim: str, texts: Sequence[str]) -> list[float]:
        """Cosine similarity of `claim` with each text (vectors are unit length).

        Sentence vectors are kept in a bounded cache: the same passages come back for
        related questions, and embedding their sentences is most of an extractive answer.
        """
        if not texts:
            return []
        query = self.embedder.embed_query(claim)
        with self._cache_lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._sentence_vectors]
        if missing:
            vectors = self.embedder.embed_documents(missing)
            with self._cache_lock:
                if len(self._sentence_vectors) + len(missing) > _SENTENCE_CACHE:
                    self._sentence_vectors.clear()
                self._sentence_vectors.update(zip(missing, vectors, strict=True))
        with self._cache_lock:
            found = [self._sentence_vectors.get(t) for t in texts]
        if any(v is None for v in found):  # evicted meanwhile by another thread
            found = list(self.embedder.embed_documents(list(texts)))
        return [sum(a * b for a, b in zip(query, v, strict=True)) for v in found if v is not None]

    def newest_date(self) -> str | None:
        """Publication date of the newest indexed article ("now" when no as_of is given)."""
        version = (self.store.article_count(), self.store.last_indexed())
        if self._newest is None or self._newest[0] != hash(version):
            dates = [m.published for m in self.store.article_metas() if m.published]
            self._newest = (hash(version), max(dates) if dates else None)
        return self._newest[1]

    def status(self) -> Any:
        """Mode in use and index statistics."""
        from rag.api import Status

        notes: list[str] = []
        generator = self._usable_generator(self.settings.llm, notes, raise_errors=False)
        return Status(
            mode="ollama" if generator else "extractive",
            model=generator.model_name if generator else None,
            mode_note=notes[0] if notes else None,
            articles=self.store.article_count(),
            chunks=self.store.chunk_count(),
            last_indexed=self.store.last_indexed(),
        )

    def add_files(self, paths: Sequence[Path]) -> Any:
        """Copy article files into the corpus folder and index it now, under the index lock.

        Every name is checked before anything is copied, and nothing is copied while
        another writer holds the index, so a refused upload leaves the corpus untouched.
        """
        from index.indexer import index_corpus, index_lock

        names = []
        for path in paths:
            name = Path(path).name
            if not name or name.startswith(".") or not name.lower().endswith(ALLOWED_SUFFIXES):
                raise CorpusError(
                    f"{name or 'the file'} is not an article file: upload .txt, .md or .html."
                )
            names.append(name)
        corpus = self.settings.corpus
        with index_lock(self.settings.data_dir):
            corpus.mkdir(parents=True, exist_ok=True)
            for path, name in zip(paths, names, strict=True):
                shutil.copyfile(path, corpus / name)
            return index_corpus(
                self.settings, embedder=self.embedder, store=self.store, locked=True
            )

    # -- steps ------------------------------------------------------------------------

    def _usable_generator(
        self, mode: str, notes: list[str], raise_errors: bool = True
    ) -> Generator | None:
        if mode == "extractive":
            notes.append(
                "Extractive answers (NEWSDESK_LLM=extractive): quoted sentences, no model. "
                "For generated answers set NEWSDESK_LLM=auto and run `ollama serve`."
            )
            return None
        if self.generator is None:
            notes.append("Extractive answers: no language model is configured.")
            return None
        try:
            self.generator.preflight()
        except OllamaError as exc:
            if mode == "ollama" and raise_errors:
                raise
            notes.append(f"Extractive answers, because {_lower_first(str(exc))}")
            return None
        return self.generator

    def _condense(
        self, question: str, history: History, generator: Generator | None, notes: list[str]
    ) -> str:
        if not any(turn.get("role") == "user" for turn in history):
            return question
        from rag.prompt import build_condense_messages, condense_question_rule_based

        if generator is not None:
            try:
                rewritten = "".join(generator.stream(build_condense_messages(question, history)))
                rewritten = " ".join(rewritten.split()).strip('"')
                if rewritten:
                    return rewritten[: self.settings.max_question_chars]
            except OllamaError as exc:
                notes.append(f"Follow-up condensed without the model: {exc}")
        return condense_question_rule_based(question, history)

    def _generate(
        self,
        generator: Generator,
        question: str,
        passages: Sequence[Passage],
        today: str | None,
        history: History | None,
    ) -> Iterator[str]:
        from rag.prompt import build_answer_messages

        messages = build_answer_messages(question, passages, today=today, history=history)
        yield from generator.stream(messages)

    def _checked_answer(
        self, text: str, passages: Sequence[Passage], model: str, notes: list[str]
    ) -> Answer:
        text, removed = drop_invalid_markers(text.strip(), set(range(1, len(passages) + 1)))
        if removed:
            notes.append(
                "Removed citation markers that named no passage: "
                + ", ".join(f"[{n}]" for n in removed)
            )
        refused = not text or (bool(_REFUSAL.search(text)) and len(text) < 120)
        citations = verify_claims(split_claims(text), passages, similarity=self.similarity)
        unsupported = [c.n for c in citations if not c.supported]
        if unsupported:
            notes.append(
                "Not supported by the cited passage: "
                + ", ".join(f"[{n}]" for n in unsupported)
                + ". Check these claims against the sources."
            )
        if not refused and not citations:
            notes.append("The answer cites no passage: treat it with caution.")
        quotes = [Dated(c.n, c.quote, c.published, c.source) for c in citations]
        notes.extend(conflict.note() for conflict in find_conflicts(quotes))
        return Answer(
            text=text or NO_ANSWER,
            answered=not refused,
            mode="ollama",
            citations=tuple(citations),
            model=model,
            notes=tuple(notes),
            passages=tuple(passages),
        )

    def _extractive_answer(
        self, question: str, passages: Sequence[Passage], notes: list[str]
    ) -> Answer:
        extract = select_sentences(
            question, passages, similarity=self.similarity, idf=self.retriever.idf()
        )
        if not extract.answered:
            return Answer(
                text=NO_ANSWER,
                answered=False,
                mode="extractive",
                notes=tuple(notes),
                passages=tuple(passages),
            )
        chosen = list(extract.sentences)
        conflicts = find_conflicts([_dated(s, passages) for s in chosen + list(extract.runners_up)])
        for conflict in conflicts:
            # Both sides of a disagreement are quoted, not only the higher-scoring one.
            for _, said_by in conflict.sides:
                for dated in said_by:
                    match = next(
                        s
                        for s in chosen + list(extract.runners_up)
                        if s.n == dated.n and s.text == dated.text
                    )
                    if match not in chosen and not any(c.n == match.n for c in chosen):
                        chosen.append(match)
            notes.append(conflict.note())
        if is_temporal(question):
            # Newest evidence first, so "what happened last" leads with the latest report.
            chosen.sort(key=lambda s: passages[s.n - 1].published or "", reverse=True)
        parts = [f"{s.text} [{s.n}]" for s in chosen]
        text = " ".join(parts)
        if is_temporal(question):
            newest = max((passages[s.n - 1].published or "" for s in chosen), default="")
            if newest:
                text = f"As of {human_date(newest)}: {text}"
        citations = [
            Citation(
                n=s.n,
                doc_id=passages[s.n - 1].doc_id,
                title=passages[s.n - 1].title,
                source=passages[s.n - 1].source,
                published=passages[s.n - 1].published,
                quote=s.text,
                start=passages[s.n - 1].start + s.start,
                end=passages[s.n - 1].start + s.end,
                score=1.0,
                supported=True,
            )
            for s in sorted(chosen, key=lambda s: s.n)
        ]
        return Answer(
            text=text,
            answered=True,
            mode="extractive",
            citations=tuple(_first_per_number(citations)),
            notes=tuple(notes),
            passages=tuple(passages),
        )

    def _finish(self, answer: Answer, timings: dict[str, float], started: float) -> Answer:
        timings["total"] = _ms(started)
        return Answer(
            text=answer.text,
            answered=answer.answered,
            mode=answer.mode,
            citations=answer.citations,
            model=answer.model,
            notes=answer.notes,
            timings=timings,
            passages=answer.passages,
        )


def _dated(sentence: Scored, passages: Sequence[Passage]) -> Dated:
    passage = passages[sentence.n - 1]
    return Dated(sentence.n, sentence.text, passage.published, passage.source)


def _first_per_number(citations: list[Citation]) -> list[Citation]:
    seen: set[int] = set()
    out = []
    for c in citations:
        if c.n not in seen:
            seen.add(c.n)
            out.append(c)
    return out


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def build_pipeline(settings: Settings) -> Pipeline:
    """Wire the real parts: Chroma store, MiniLM embedder, hybrid retriever, Ollama."""
    from index.embed import query_embedder

    store = ChromaStore.from_settings(settings)
    embedder = query_embedder(settings)
    store.check_model(embedder.model_name)
    retriever = HybridRetriever(store, embedder)
    generator: Generator | None = None
    if settings.llm != "extractive":
        from rag.ollama_gen import OllamaGenerator

        generator = OllamaGenerator.from_settings(settings)
    return Pipeline(
        settings=settings,
        store=store,
        embedder=embedder,
        retriever=retriever,
        generator=generator,
    )
