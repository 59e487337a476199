"""The generated-answer path of the pipeline with a recording mock model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from index.indexer import index_corpus
from index.store import ChromaStore
from rag.errors import OllamaUnavailableError
from rag.pipeline import Pipeline
from rag.protocols import ChatMessage
from rag.retrieve import HybridRetriever
from rag.settings import Settings
from rag.types import Answer, TextDelta
from tests.fakes import HashEmbedder, MockGenerator


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, ChromaStore, HashEmbedder]:
    settings = Settings(
        corpus=Path(__file__).parent.parent / "seeds",
        data_dir=tmp_path_factory.mktemp("gen"),
        llm="auto",
    )
    embedder = HashEmbedder()
    index_corpus(settings, embedder=embedder)
    return settings, ChromaStore.from_settings(settings), embedder


def _pipeline(parts, generator) -> Pipeline:  # type: ignore[no-untyped-def]
    settings, store, embedder = parts
    return Pipeline(
        settings=settings,
        store=store,
        embedder=embedder,
        retriever=HybridRetriever(store, embedder),
        generator=generator,
    )


def _answer(pipeline: Pipeline, question: str, **kwargs) -> tuple[list[str], Answer]:  # type: ignore[no-untyped-def]
    deltas, final = [], None
    for event in pipeline.stream(question, **kwargs):
        if isinstance(event, TextDelta):
            deltas.append(event.text)
        else:
            final = event
    assert final is not None
    return deltas, final


def _quote_from_passage(pipeline: Pipeline, question: str) -> tuple[int, str]:
    passages = pipeline.retriever.retrieve(question, k=pipeline.settings.top_k)
    for n, passage in enumerate(passages, start=1):
        if "39 times" in passage.text:
            return n, "Xi has met Putin in person 39 times since becoming China’s leader"
    raise AssertionError("the passage with the answer was not retrieved")


def test_valid_citations_are_verified_and_streamed(parts) -> None:  # type: ignore[no-untyped-def]
    question = "How many times has Xi met Putin in person?"
    mock = MockGenerator()
    pipeline = _pipeline(parts, mock)
    n, claim = _quote_from_passage(pipeline, question)
    mock.reply = f"{claim} [{n}]."
    deltas, answer = _answer(pipeline, question)
    assert "".join(deltas).strip() == mock.reply
    assert answer.mode == "ollama" and answer.model == "mock-model" and answer.answered
    [citation] = answer.citations
    assert citation.n == n and citation.supported and "39 times" in citation.quote
    prompt = "\n".join(m["content"] for m in mock.prompts[-1])
    assert question in prompt and "39 times" in prompt


def test_out_of_range_marker_is_removed_and_noted(parts) -> None:  # type: ignore[no-untyped-def]
    question = "How many times has Xi met Putin in person?"
    mock = MockGenerator()
    pipeline = _pipeline(parts, mock)
    n, claim = _quote_from_passage(pipeline, question)
    mock.reply = f"{claim} [{n}][9]."
    _, answer = _answer(pipeline, question)
    assert "[9]" not in answer.text
    assert [c.n for c in answer.citations] == [n]
    assert any("[9]" in note for note in answer.notes)


def test_unsupported_claim_is_flagged(parts) -> None:  # type: ignore[no-untyped-def]
    question = "How many times has Xi met Putin in person?"
    mock = MockGenerator()
    pipeline = _pipeline(parts, mock)
    n, _ = _quote_from_passage(pipeline, question)
    mock.reply = f"Xi and Putin have played chess together 12 times on the moon [{n}]."
    _, answer = _answer(pipeline, question)
    [citation] = answer.citations
    assert not citation.supported
    assert any("Not supported" in note for note in answer.notes)


def test_refusal_from_the_model_is_not_answered(parts) -> None:  # type: ignore[no-untyped-def]
    pipeline = _pipeline(parts, MockGenerator("The articles don't say."))
    _, answer = _answer(pipeline, "Who won the 2022 FIFA World Cup?")
    assert not answer.answered and answer.citations == ()


class DownGenerator(MockGenerator):
    def preflight(self) -> None:
        raise OllamaUnavailableError("http://127.0.0.1:9")


class DiesMidStream(MockGenerator):
    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        yield "Xi and"
        raise OllamaUnavailableError("http://127.0.0.1:9")


def test_auto_mode_falls_back_to_extractive_and_says_why(parts) -> None:  # type: ignore[no-untyped-def]
    _, answer = _answer(_pipeline(parts, DownGenerator()), "How many times has Xi met Putin?")
    assert answer.mode == "extractive"
    assert any("ollama serve" in note for note in answer.notes)


def test_ollama_mode_raises_instead_of_falling_back(parts) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OllamaUnavailableError, match="ollama serve"):
        _answer(_pipeline(parts, DownGenerator()), "How many times?", llm="ollama")


def test_stream_cut_in_auto_mode_ends_in_an_extractive_answer(parts) -> None:  # type: ignore[no-untyped-def]
    _, answer = _answer(_pipeline(parts, DiesMidStream()), "How many times has Xi met Putin?")
    assert answer.mode == "extractive"
    assert answer.text != "Xi and"
    assert any("failed" in note for note in answer.notes)
