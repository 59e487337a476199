"""The evaluation sets: the seed question set's content, and the dataset loaders."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from eval.datasets import (
    REALTIMEQA_DEFAULT_DIR,
    SEED_TYPES,
    load_llamaindex_dataset,
    load_realtimeqa,
    load_seed_questions,
    realtimeqa_corpus_to_folder,
    realtimeqa_document,
)
from eval.metrics import REGEX_PREFIX, required_group_hits
from rag.errors import ConfigError, CorpusError

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "eval" / "questions.jsonl"
FIXTURES = Path(__file__).resolve().parent / "data" / "eval"
needs_realtimeqa = pytest.mark.skipif(
    not (REALTIMEQA_DEFAULT_DIR / "questions.jsonl").is_file(),
    reason="RealTimeQA benchmark folder is not on this machine",
)


# --- the seed question set -----------------------------------------------------------------


def test_seed_set_is_large_and_covers_every_type() -> None:
    items = load_seed_questions(QUESTIONS)
    counts = Counter(item.type for item in items)
    assert len(items) >= 44
    assert set(counts) == SEED_TYPES
    assert counts["unanswerable"] >= 8
    assert counts["conflicting"] >= 2
    assert counts["multi-source"] >= 4
    assert all(item.as_of is None and not item.choices for item in items)


def test_seed_gold_docs_are_real_articles(seeds_dir: Path) -> None:
    stems = {path.stem for path in seeds_dir.iterdir()}
    for item in load_seed_questions(QUESTIONS):
        assert set(item.gold_doc_ids) <= stems, item.id
        if item.type == "multi-source":
            assert len(item.gold_doc_ids) >= 2, item.id
        if not item.answerable:
            assert not item.gold_doc_ids and not item.required, item.id


def test_every_required_fact_is_stated_in_the_gold_articles(seeds_dir: Path) -> None:
    """A fair key: the gold articles together match every group, and every gold article
    matches at least one group (otherwise it is not gold)."""
    texts = {path.stem: path.read_text(encoding="utf-8") for path in seeds_dir.iterdir()}
    for item in load_seed_questions(QUESTIONS):
        if not item.answerable:
            continue
        joined = "\n".join(texts[doc] for doc in item.gold_doc_ids)
        assert all(required_group_hits(joined, item.required)), item.id
        for doc in item.gold_doc_ids:
            assert any(required_group_hits(texts[doc], item.required)), (item.id, doc)


def test_required_regexes_compile() -> None:
    for item in load_seed_questions(QUESTIONS):
        for group in item.required:
            for alternative in group:
                if alternative.startswith(REGEX_PREFIX):
                    re.compile(alternative[len(REGEX_PREFIX) :])


def test_follow_ups_carry_the_first_turn() -> None:
    items = {item.id: item for item in load_seed_questions(QUESTIONS)}
    follow_ups = [item for item in items.values() if item.type == "follow-up"]
    assert len(follow_ups) >= 4
    for item in follow_ups:
        first = items[item.id[:-1] + "a"]
        assert [turn["role"] for turn in item.history] == ["user", "assistant"]
        assert item.history[0]["content"] == first.question
        assert item.history[1]["content"] == first.reference_answer
    assert all(not item.history for item in items.values() if item.type != "follow-up")


def test_conflicting_winter_olympics_dates_are_in_the_set(seeds_dir: Path) -> None:
    examiner = (seeds_dir / "001_f4e4b5b006eee376.txt").read_text(encoding="utf-8")
    assert "2020 Winter Olympics" in examiner  # the error the conflicting questions test
    conflicting = [i for i in load_seed_questions(QUESTIONS) if i.type == "conflicting"]
    assert any("001_f4e4b5b006eee376" in i.gold_doc_ids for i in conflicting)


def test_unanswerable_questions_include_near_topic_ones() -> None:
    questions = " ".join(
        item.question.lower() for item in load_seed_questions(QUESTIONS) if not item.answerable
    )
    for topic in ("moscow", "xi", "world cup", "march 2023"):
        assert topic in questions


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


GOOD: dict[str, object] = {
    "id": "x1",
    "type": "numeric",
    "question": "How many?",
    "reference_answer": "39",
    "gold_doc_ids": ["003"],
    "required": [["39"]],
    "history": [],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "trivia"}, "unknown type"),
        ({"required": []}, "need `gold_doc_ids` and `required`"),
        ({"required": [[]]}, "non-empty lists"),
        ({"type": "unanswerable"}, "no gold docs"),
        ({"history": [{"role": "bot", "content": "x"}]}, "history"),
    ],
)
def test_bad_seed_lines_are_rejected(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = _write_jsonl(tmp_path / "q.jsonl", [GOOD | change])
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_seed_questions(path)


def test_duplicate_ids_and_missing_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="used twice"):
        load_seed_questions(_write_jsonl(tmp_path / "q.jsonl", [GOOD, GOOD]))
    with pytest.raises(ConfigError, match="not found"):
        load_seed_questions(tmp_path / "missing.jsonl")
    (tmp_path / "broken.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.jsonl:1"):
        load_seed_questions(tmp_path / "broken.jsonl")


# --- LlamaIndex LabelledRagDataset ---------------------------------------------------------


def test_llamaindex_dataset_loads_queries_answers_and_contexts() -> None:
    items = load_llamaindex_dataset(FIXTURES / "rag_dataset.json")
    assert [item.id for item in items] == ["li0001", "li0002", "li0003"]
    assert items[0].question == "How many times has Xi met Putin in person?"
    assert items[0].reference_answer == "39 times"
    assert "39 times" in items[0].reference_contexts[0]
    assert all(item.type == "llamaindex" and not item.gold_doc_ids for item in items)
    assert all(item.answerable and not item.required for item in items)


def test_llamaindex_dataset_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "rag_dataset.json"
    path.write_text(json.dumps({"data": []}), encoding="utf-8")
    with pytest.raises(ConfigError, match="LabelledRagDataset"):
        load_llamaindex_dataset(path)


# --- RealTimeQA ----------------------------------------------------------------------------


def _fake_corpus(folder: Path, text: str = "Body text.") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = [
        {
            "doc_id": "rtqa-1",
            "url": "https://example.org/a",
            "publish_date": "2022-06-16",
            "text": text,
        },
        {
            "doc_id": "rtqa-2",
            "url": "https://example.org/b",
            "publish_date": "2021-01-02",
            "text": "Other: text with a colon.",
        },
    ]
    return _write_jsonl(folder / "corpus.jsonl", rows)


def test_realtimeqa_document_has_front_matter_without_title() -> None:
    import yaml

    text = realtimeqa_document(
        {"doc_id": "d", "url": "https://x.org/a: b", "publish_date": "2022-06-16", "text": "T."}
    )
    assert text.startswith("---\n")
    front, body = text[4:].split("---\n", 1)
    assert yaml.safe_load(front) == {"published": "2022-06-16", "url": "https://x.org/a: b"}
    assert "title" not in front
    assert body.strip() == "T."


def test_realtimeqa_corpus_folder_is_written_incrementally(tmp_path: Path) -> None:
    source = _fake_corpus(tmp_path / "rtqa").parent
    out = tmp_path / "data" / "realtimeqa" / "corpus"
    first = realtimeqa_corpus_to_folder(source, out)
    assert (first.written, first.unchanged) == (2, 0)
    assert sorted(p.name for p in out.iterdir()) == ["rtqa-1.md", "rtqa-2.md"]
    before = (out / "rtqa-1.md").stat().st_mtime_ns
    second = realtimeqa_corpus_to_folder(source, out)
    assert (second.written, second.unchanged) == (0, 2)
    assert (out / "rtqa-1.md").stat().st_mtime_ns == before
    _fake_corpus(tmp_path / "rtqa", text="Changed body.")
    third = realtimeqa_corpus_to_folder(source, out)
    assert (third.written, third.unchanged) == (1, 1)
    assert "Changed body." in (out / "rtqa-1.md").read_text(encoding="utf-8")


def test_realtimeqa_missing_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"questions\.jsonl and corpus\.jsonl"):
        load_realtimeqa(tmp_path)


@needs_realtimeqa
def test_realtimeqa_questions_load_as_dated_multiple_choice() -> None:
    items = load_realtimeqa(REALTIMEQA_DEFAULT_DIR)
    assert len(items) == 141
    for item in items:
        assert len(item.choices) == 4
        assert item.answer_index is not None and 0 <= item.answer_index < 4
        assert item.reference_answer == item.choices[item.answer_index]
        assert item.gold_doc_ids and item.as_of and re.fullmatch(r"\d{4}-\d\d-\d\d", item.as_of)
        assert item.type == "realtimeqa" and item.answerable
