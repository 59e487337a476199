"""Evaluation sets, each loaded into the same frozen `EvalItem`.

- the seed question set (`eval/questions.jsonl`), written against the five seed articles;
- RealTimeQA (CNN subset), read at run time from its folder and never copied into the repo;
- LlamaIndex `LabelledRagDataset` files (`rag_dataset.json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, CorpusError

ItemType = str  # factoid | numeric | temporal | multi-source | conflicting | unanswerable | ...

SEED_TYPES = frozenset(
    {"factoid", "numeric", "temporal", "multi-source", "conflicting", "unanswerable", "follow-up"}
)
SEED_FIELDS = frozenset(
    {"id", "type", "question", "reference_answer", "gold_doc_ids", "required", "history"}
)
REALTIMEQA_DEFAULT_DIR = Path("/work/shared/benchmarks/realtimeqa-cnn-2022")


@dataclass(frozen=True)
class EvalItem:
    """One question to ask, with what a correct answer and a correct retrieval look like."""

    id: str
    type: ItemType
    question: str
    reference_answer: str
    gold_doc_ids: tuple[str, ...] = ()
    # A correct answer matches at least one alternative of every group ("re:" = regex).
    required: tuple[tuple[str, ...], ...] = ()
    history: tuple[dict[str, str], ...] = ()
    as_of: str | None = None
    choices: tuple[str, ...] = ()
    answer_index: int | None = None
    # Text the reference answer was written from, when gold documents are unknown.
    reference_contexts: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """False for questions the corpus cannot answer (the system should refuse)."""
        return self.type != "unanswerable"


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as error:
                    raise ConfigError(
                        f"{path}:{number} is not valid JSON ({error.msg}): fix that line."
                    ) from error


def _history(raw: object, where: str) -> tuple[dict[str, str], ...]:
    if not isinstance(raw, list) or not all(
        isinstance(turn, dict)
        and turn.get("role") in ("user", "assistant")
        and isinstance(turn.get("content"), str)
        for turn in raw
    ):
        raise ConfigError(
            f"{where}: `history` must be a list of {{'role': 'user'|'assistant', 'content'}}."
        )
    return tuple({"role": turn["role"], "content": turn["content"]} for turn in raw)


def _required(raw: object, where: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(raw, list) or not all(
        isinstance(group, list) and group and all(isinstance(alt, str) and alt for alt in group)
        for group in raw
    ):
        raise ConfigError(
            f"{where}: `required` must be a list of non-empty lists of strings "
            '(e.g. [["39"], ["Xi", "Putin"]]).'
        )
    return tuple(tuple(group) for group in raw)


def seed_item_from_dict(raw: dict[str, Any], where: str = "question") -> EvalItem:
    """Validate one line of the seed question set and turn it into an `EvalItem`."""
    missing = sorted(SEED_FIELDS - raw.keys())
    if missing:
        raise ConfigError(f"{where}: missing field(s) {', '.join(missing)}.")
    if raw["type"] not in SEED_TYPES:
        raise ConfigError(
            f"{where}: unknown type {raw['type']!r}; use one of {', '.join(sorted(SEED_TYPES))}."
        )
    gold = raw["gold_doc_ids"]
    if not isinstance(gold, list) or not all(isinstance(doc, str) for doc in gold):
        raise ConfigError(f"{where}: `gold_doc_ids` must be a list of article file stems.")
    required = _required(raw["required"], where)
    if raw["type"] == "unanswerable" and (gold or required):
        raise ConfigError(f"{where}: unanswerable questions have no gold docs and no `required`.")
    if raw["type"] != "unanswerable" and not (gold and required):
        raise ConfigError(f"{where}: answerable questions need `gold_doc_ids` and `required`.")
    return EvalItem(
        id=str(raw["id"]),
        type=raw["type"],
        question=str(raw["question"]),
        reference_answer=str(raw["reference_answer"]),
        gold_doc_ids=tuple(gold),
        required=required,
        history=_history(raw["history"], where),
        as_of=raw.get("as_of"),
    )


def load_seed_questions(path: Path | str) -> list[EvalItem]:
    """Load the seed question set (one JSON object per line); ids must be unique."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Question file {path} not found: pass the path of questions.jsonl.")
    items = [seed_item_from_dict(raw, f"{path}:{number}") for number, raw in _read_jsonl(path)]
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ConfigError(f"{path}: question id {item.id!r} is used twice; ids must be unique.")
        seen.add(item.id)
    return items


def _realtimeqa_file(folder: Path, name: str) -> Path:
    path = Path(folder) / name
    if not path.is_file():
        raise CorpusError(
            f"{path} not found: point the RealTimeQA path at the folder holding "
            "questions.jsonl and corpus.jsonl."
        )
    return path


def load_realtimeqa(folder: Path | str = REALTIMEQA_DEFAULT_DIR) -> list[EvalItem]:
    """Load the RealTimeQA (CNN) questions: multiple choice, dated, with gold articles.

    `as_of` is the question date, so articles published later are not used.
    """
    path = _realtimeqa_file(Path(folder), "questions.jsonl")
    items = []
    for number, raw in _read_jsonl(path):
        try:
            choices = tuple(str(choice) for choice in raw["choices"])
            items.append(
                EvalItem(
                    id=str(raw["question_id"]),
                    type="realtimeqa",
                    question=str(raw["question"]),
                    reference_answer=str(raw["answer"]),
                    gold_doc_ids=tuple(raw["gold_doc_ids"]),
                    as_of=raw.get("question_date"),
                    choices=choices,
                    answer_index=int(raw["answer_index"]),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"{path}:{number} is not a RealTimeQA question: {error}") from error
    return items


def realtimeqa_document(doc: dict[str, Any]) -> str:
    """One corpus record as Markdown with YAML front matter (no title: it would leak gold)."""
    import yaml

    front = {"published": str(doc["publish_date"]), "url": str(doc.get("url") or "")}
    header = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    return f"---\n{header}---\n\n{str(doc['text']).strip()}\n"


@dataclass(frozen=True)
class FolderSync:
    """What `realtimeqa_corpus_to_folder` did."""

    folder: Path
    written: int
    unchanged: int


def realtimeqa_corpus_to_folder(folder: Path | str, out_folder: Path | str) -> FolderSync:
    """Write each RealTimeQA corpus document to `<out_folder>/<doc_id>.md` for the indexer.

    Files whose content is already up to date are left alone, so the indexer sees them as
    unchanged. The out folder should live in the data directory, never in the repository.
    """
    path = _realtimeqa_file(Path(folder), "corpus.jsonl")
    out = Path(out_folder)
    out.mkdir(parents=True, exist_ok=True)
    written = unchanged = 0
    for number, doc in _read_jsonl(path):
        doc_id = str(doc.get("doc_id", ""))
        if not doc_id or "/" in doc_id or doc_id.startswith("."):
            raise ConfigError(f"{path}:{number}: unusable doc_id {doc_id!r}.")
        target = out / f"{doc_id}.md"
        content = realtimeqa_document(doc)
        if target.is_file() and target.read_text(encoding="utf-8") == content:
            unchanged += 1
            continue
        target.write_text(content, encoding="utf-8")
        written += 1
    return FolderSync(folder=out, written=written, unchanged=unchanged)


def _llamaindex_examples(data: object, path: Path) -> Sequence[dict[str, Any]]:
    examples = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(examples, list):
        raise ConfigError(
            f"{path} is not a LlamaIndex LabelledRagDataset: expected "
            '{"examples": [{"query", "reference_contexts", "reference_answer"}, ...]}.'
        )
    return examples


def load_llamaindex_dataset(path: Path | str) -> list[EvalItem]:
    """Load a LlamaIndex `LabelledRagDataset` JSON file (`rag_dataset.json`).

    Gold documents are unknown: answers are scored against `reference_answer` (token F1,
    containment) and retrieval by overlap of passages with `reference_contexts`.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} not found: pass the path of a rag_dataset.json file.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path} is not valid JSON ({error.msg}).") from error
    items = []
    for number, example in enumerate(_llamaindex_examples(data, path), start=1):
        query = example.get("query") if isinstance(example, dict) else None
        if not isinstance(query, str) or not query.strip():
            raise ConfigError(f"{path}: example {number} has no `query`.")
        contexts = example.get("reference_contexts") or []
        items.append(
            EvalItem(
                id=f"li{number:04d}",
                type="llamaindex",
                question=query,
                reference_answer=str(example.get("reference_answer") or ""),
                reference_contexts=tuple(str(context) for context in contexts),
            )
        )
    return items
