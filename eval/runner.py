"""Run an evaluation set through Newsdesk, score every answer and write the run's outputs.

`run_eval` asks every item, scores it with `eval.metrics`, aggregates per question type and
overall, and writes results.jsonl, summary.json, report.md and PNG charts to the run folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from eval import metrics as m
from eval.datasets import EvalItem
from rag.errors import ConfigError, OllamaError, QuestionError
from rag.protocols import Generator
from rag.types import Answer, Passage

RETRIEVAL_DEPTH = 10
DEFAULT_RUNS_DIR = Path("eval/runs")
THRESHOLDS_PATH = Path(__file__).with_name("thresholds.toml")
VERSIONED_PACKAGES = (
    "newsdesk",
    "llama-index-core",
    "chromadb",
    "sentence-transformers",
    "onnxruntime",
    "bm25s",
    "ollama",
    "numpy",
)
# Errors that concern one question; any other error stops the run.
ITEM_ERRORS = (QuestionError, OllamaError)
# The order of metrics in summaries and reports; unknown names follow.
METRIC_ORDER = (
    "n",
    "hit@1",
    "hit@5",
    "hit@10",
    "recall@5",
    "mrr@10",
    "required_accuracy",
    "required_groups",
    "em",
    "f1",
    "containment",
    "mc_accuracy",
    "citation_precision",
    "citation_recall",
    "citations",
    "unsupported_citations",
    "unsupported_rate",
    "unanswerable_refusal_rate",
    "answerable_wrongly_refused",
    "answered_rate",
    "judged_faithfulness",
    "errors",
)
# Scores summed rather than averaged over questions.
COUNT_SCORES = ("citations", "unsupported_citations", "error")


class Answerer(Protocol):
    """What the runner needs from `rag.api.Newsdesk`."""

    def ask(
        self,
        question: str,
        history: Sequence[dict[str, str]] | None = None,
        as_of: str | None = None,
        *,
        k: int | None = None,
        llm: str | None = None,
    ) -> Answer:
        """Answer one question."""
        ...

    def retrieve(
        self, question: str, *, k: int | None = None, as_of: str | None = None
    ) -> list[Passage]:
        """Passages for one question, best first."""
        ...


@dataclass(frozen=True)
class QuestionResult:
    """One asked item: the answer, what was retrieved, and its scores."""

    id: str
    type: str
    question: str
    reference_answer: str
    answer: dict[str, Any]  # Answer.to_dict(), or {} when asking failed
    retrieved: tuple[tuple[str, ...], ...]  # doc ids of the ranked passages
    scores: dict[str, float | None]
    missing_groups: tuple[tuple[str, ...], ...] = ()
    mc_pick: int | None = None
    error: str | None = None
    wall_ms: float = 0.0

    @property
    def timings(self) -> dict[str, float]:
        """Stage timings reported by the answer step."""
        return dict(self.answer.get("timings") or {})

    def to_dict(self) -> dict[str, Any]:
        """JSON form for results.jsonl."""
        data = asdict(self)
        data["retrieved"] = [list(ids) for ids in self.retrieved]
        data["missing_groups"] = [list(group) for group in self.missing_groups]
        return data


@dataclass(frozen=True)
class Summary:
    """Aggregated metrics of a run and what produced them."""

    dataset: str
    n: int
    overall: dict[str, float | None]
    by_type: dict[str, dict[str, float | None]]
    latency: dict[str, dict[str, float | None]]  # stage -> {"p50", "p95", "n"}, in ms
    settings: dict[str, Any]
    versions: dict[str, str]
    git_commit: str | None
    started: str
    duration_seconds: float
    out_dir: str
    results: tuple[QuestionResult, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for summary.json (per-question results live in results.jsonl)."""
        data = asdict(self)
        del data["results"]
        return data


# --- scoring one item ----------------------------------------------------------------------


def score_item(
    item: EvalItem,
    answer: Answer | None,
    ranked: Sequence[Passage],
    *,
    mc_pick: int | None = None,
) -> tuple[dict[str, float | None], tuple[tuple[str, ...], ...]]:
    """Scores of one item and the `required` groups its answer missed.

    `answer` is None when asking failed: the item then counts as wrong, never as refused.
    """
    scores: dict[str, float | None] = {}
    doc_ranking = [m.passage_doc_ids(p) for p in ranked]
    relevant: list[bool] | None = None
    if item.gold_doc_ids:
        relevant = m.relevance(doc_ranking, item.gold_doc_ids)
        scores["recall@5"] = m.recall_at_k(doc_ranking, item.gold_doc_ids, 5)
    elif item.reference_contexts:
        relevant = m.context_relevance([p.text for p in ranked], item.reference_contexts)
    if relevant is not None:
        scores["hit@1"] = m.hit_at_k(relevant, 1)
        scores["hit@5"] = m.hit_at_k(relevant, 5)
        scores["hit@10"] = m.hit_at_k(relevant, 10)
        scores["mrr@10"] = m.mrr_at_k(relevant, 10)

    text = m.claim_text(answer.text) if answer else ""
    answered = bool(answer and answer.answered)
    scores["error"] = 0.0 if answer else 1.0
    scores["answered"] = float(answered)
    missing: tuple[tuple[str, ...], ...] = ()
    if item.answerable:
        scores["wrongly_refused"] = float(answer is not None and not answered)
        if item.required:
            hits = m.required_group_hits(text, item.required) if answered else []
            hits = hits or [False] * len(item.required)
            scores["required"] = float(all(hits))
            scores["required_groups"] = sum(hits) / len(hits)
            missing = tuple(g for g, hit in zip(item.required, hits, strict=True) if not hit)
        if item.reference_answer:
            scores["f1"] = m.token_f1(text, item.reference_answer)
            if not item.required:
                scores["em"] = m.exact_match(text, item.reference_answer)
                scores["containment"] = m.containment(text, item.reference_answer)
    else:
        scores["refused"] = float(answer is not None and not answered)

    citations = answer.citations if answer else ()
    scores["citations"] = float(len(citations))
    scores["unsupported_citations"] = float(m.unsupported_count(citations))
    if item.gold_doc_ids and answered:
        scores["citation_precision"] = m.citation_precision(citations, item.gold_doc_ids)
        scores["citation_recall"] = m.citation_recall(citations, item.gold_doc_ids)
    if item.choices and item.answer_index is not None:
        scores["mc_correct"] = float(mc_pick == item.answer_index)
    return scores, missing


def aggregate(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    """Overall metrics of a group of results: means of the per-item scores, sums of counts."""
    names = sorted({name for r in results for name in r.scores})
    summary: dict[str, float | None] = {"n": float(len(results))}
    for name in names:
        values = [r.scores.get(name) for r in results]
        if name in COUNT_SCORES:
            summary[name] = float(sum(v for v in values if v is not None))
        else:
            summary[name] = m.mean(values)
    # Clearer names for the gate and the report.
    renames = {
        "required": "required_accuracy",
        "refused": "unanswerable_refusal_rate",
        "wrongly_refused": "answerable_wrongly_refused",
        "mc_correct": "mc_accuracy",
        "answered": "answered_rate",
        "error": "errors",
    }
    for old, new in renames.items():
        if old in summary:
            summary[new] = summary.pop(old)
    cited = summary.get("citations") or 0.0
    summary["unsupported_rate"] = (
        (summary.get("unsupported_citations") or 0.0) / cited if cited else None
    )
    rank = {name: i for i, name in enumerate(METRIC_ORDER)}
    return dict(sorted(summary.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def latency_table(results: Sequence[QuestionResult]) -> dict[str, dict[str, float | None]]:
    """p50 and p95 (milliseconds) of every timing stage in the answers, plus the wall clock
    of each `ask` measured by the runner (`ask_wall`)."""
    stages: dict[str, list[float]] = {}
    for result in results:
        for stage, value in result.timings.items():
            if isinstance(value, int | float):
                stages.setdefault(stage, []).append(float(value))
        stages.setdefault("ask_wall", []).append(result.wall_ms)
    return {
        stage: {
            "p50": m.percentile(values, 50),
            "p95": m.percentile(values, 95),
            "n": float(len(values)),
        }
        for stage, values in stages.items()
    }


# --- provenance --------------------------------------------------------------------------


def package_versions(names: Iterable[str] = VERSIONED_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape the results (and Python's)."""
    versions = {"python": sys.version.split()[0]}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit(repo: Path | None = None) -> str | None:
    """The checked-out commit (with "-dirty" when files changed), or None outside git."""
    where = repo or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = "-dirty" if status.returncode == 0 and status.stdout.strip() else ""
    return commit.stdout.strip() + dirty


def settings_snapshot(newsdesk: object) -> dict[str, Any]:
    """The Newsdesk settings as JSON-safe values (empty when it has none)."""
    settings = getattr(newsdesk, "settings", None)
    dump = getattr(settings, "model_dump", None)
    if dump is None:
        return {}
    data: dict[str, Any] = json.loads(json.dumps(dump(mode="json"), default=str))
    if data.get("auth"):
        data["auth"] = "***"
    return data


def default_out_dir(base: Path = DEFAULT_RUNS_DIR) -> Path:
    """A new run folder named by the UTC time, e.g. eval/runs/20240101-120000."""
    return base / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


# --- the run -------------------------------------------------------------------------------


JUDGE_PROMPT = (
    "You check answers for faithfulness. Passages:\n{passages}\n\nAnswer:\n{answer}\n\n"
    "Is every claim in the answer supported by the passages? Reply with one word: YES or NO."
)


def judge_faithfulness(generator: Generator, answer: Answer) -> float | None:
    """LLM-judged faithfulness of an answer to its cited passages: 1.0 YES, 0.0 NO.

    None when the answer has no citations or the reply is neither YES nor NO. This is a model's
    opinion, reported as `judged_faithfulness` and kept apart from the measured metrics.
    """
    if not answer.answered or not answer.citations:
        return None
    passages = "\n".join(f"[{c.n}] {c.quote}" for c in answer.citations)
    prompt = JUDGE_PROMPT.format(passages=passages, answer=answer.text)
    reply = "".join(generator.stream([{"role": "user", "content": prompt}])).strip().upper()
    if reply.startswith("YES"):
        return 1.0
    if reply.startswith("NO"):
        return 0.0
    return None


def _ranking(
    newsdesk: Answerer, item: EvalItem, answer: Answer | None, depth: int
) -> list[Passage]:
    # Follow-ups only make sense with their history, which `retrieve` does not take: use
    # the passages the answer step retrieved for them.
    if item.history:
        return list(answer.passages) if answer else []
    return newsdesk.retrieve(item.question, k=depth, as_of=item.as_of)


def evaluate_item(
    newsdesk: Answerer,
    item: EvalItem,
    *,
    k: int | None,
    llm: str | None,
    retrieval_depth: int = RETRIEVAL_DEPTH,
    judge: Generator | None = None,
    embedder: m.TextEmbedder | None = None,
) -> QuestionResult:
    """Ask one item and score it.

    Errors about the question or the model (`QuestionError`, `OllamaError`) are recorded
    against the item; errors about the index or store end the run, as every item would fail.
    """
    started = time.perf_counter()
    answer: Answer | None = None
    error: str | None = None
    try:
        answer = newsdesk.ask(item.question, list(item.history), item.as_of, k=k, llm=llm)
    except ITEM_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"
    wall = (time.perf_counter() - started) * 1000
    try:
        ranked = _ranking(newsdesk, item, answer, retrieval_depth)
    except ITEM_ERRORS as exc:
        ranked, error = [], error or f"{type(exc).__name__}: {exc}"
    mc_pick = None
    if item.choices:
        evidence = [m.claim_text(answer.text)] if answer and answer.answered else []
        evidence += [p.text for p in ranked]
        mc_pick = m.pick_choice(item.choices, evidence, embedder=embedder)
    scores, missing = score_item(item, answer, ranked, mc_pick=mc_pick)
    if judge is not None and answer is not None:
        try:
            scores["judged_faithfulness"] = judge_faithfulness(judge, answer)
        except OllamaError:
            scores["judged_faithfulness"] = None
    return QuestionResult(
        id=item.id,
        type=item.type,
        question=item.question,
        reference_answer=item.reference_answer,
        answer=answer.to_dict() if answer else {},
        retrieved=tuple(m.passage_doc_ids(p) for p in ranked),
        scores=scores,
        missing_groups=missing,
        mc_pick=mc_pick,
        error=error,
        wall_ms=round(wall, 1),
    )


def summarise(
    results: Sequence[QuestionResult],
    *,
    dataset: str,
    settings: Mapping[str, Any],
    started: str,
    duration: float,
    out_dir: Path,
) -> Summary:
    """Aggregate per-question results into a `Summary`."""
    types = sorted({r.type for r in results})
    return Summary(
        dataset=dataset,
        n=len(results),
        overall=aggregate(results),
        by_type={t: aggregate([r for r in results if r.type == t]) for t in types},
        latency=latency_table(results),
        settings=dict(settings),
        versions=package_versions(),
        git_commit=git_commit(),
        started=started,
        duration_seconds=duration,
        out_dir=str(out_dir),
        results=tuple(results),
    )


def run_eval(
    newsdesk: Answerer,
    items: Sequence[EvalItem],
    *,
    k: int | None = None,
    llm: str | None = None,
    out_dir: Path | str | None = None,
    progress: bool = True,
    dataset: str = "seeds",
    retrieval_depth: int = RETRIEVAL_DEPTH,
    judge: Generator | None = None,
    embedder: m.TextEmbedder | None = None,
    charts: bool = True,
) -> Summary:
    """Ask every item, score it, and write results.jsonl, summary.json, report.md and charts.

    `as_of` and `history` of each item are passed to `ask`. Retrieval is scored on the top
    `retrieval_depth` passages of `retrieve` (follow-ups: the passages the answer used).
    """
    from eval import report

    if not items:
        raise ConfigError("The evaluation set is empty: check the dataset path.")
    out = Path(out_dir) if out_dir else default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = time.perf_counter()
    results: list[QuestionResult] = []

    def ask_one(item: EvalItem) -> None:
        results.append(
            evaluate_item(
                newsdesk,
                item,
                k=k,
                llm=llm,
                retrieval_depth=retrieval_depth,
                judge=judge,
                embedder=embedder,
            )
        )

    if progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"Evaluating {dataset}", total=len(items))
            for item in items:
                ask_one(item)
                bar.advance(task)
    else:
        for item in items:
            ask_one(item)

    run_settings = {
        "dataset": dataset,
        "k": k,
        "llm": llm,
        "retrieval_depth": retrieval_depth,
        "judge": getattr(judge, "model_name", None),
        "newsdesk": settings_snapshot(newsdesk),
    }
    summary = summarise(
        results,
        dataset=dataset,
        settings=run_settings,
        started=started,
        duration=time.perf_counter() - clock,
        out_dir=out,
    )
    report.write_outputs(summary, out, charts=charts)
    return summary


# --- the gate ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Floors (`min`) and ceilings (`max`) for one dataset and answer mode."""

    floors: dict[str, float]
    ceilings: dict[str, float]


def load_thresholds(
    dataset: str = "seeds", mode: str = "extractive", path: Path = THRESHOLDS_PATH
) -> Thresholds:
    """Read `[<dataset>.<mode>.min]` and `[<dataset>.<mode>.max]` from thresholds.toml."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"Cannot read thresholds from {path}: {error}") from error
    section = data.get(dataset, {}).get(mode)
    if not isinstance(section, dict):
        raise ConfigError(f"{path} has no [{dataset}.{mode}] thresholds.")
    return Thresholds(
        floors={k: float(v) for k, v in section.get("min", {}).items()},
        ceilings={k: float(v) for k, v in section.get("max", {}).items()},
    )


def check_gate(summary: Summary, thresholds: Thresholds) -> list[str]:
    """Every overall metric that misses its threshold (empty list: the gate passes)."""
    return m.gate_failures(summary.overall, thresholds.floors, thresholds.ceilings)
