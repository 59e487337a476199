"""Outputs of an evaluation run: results.jsonl, summary.json, report.md, PNG charts, and
comparison of two runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.runner import QuestionResult, Summary
from rag.errors import ConfigError

OUTPUT_FILES = ("results.jsonl", "summary.json", "report.md")
CHART_FILES = ("scores_by_type.png", "latency.png")
# Metrics shown per question type and in the chart, in this order, when measured.
TYPE_METRICS = (
    "hit@5",
    "mrr@10",
    "required_accuracy",
    "unanswerable_refusal_rate",
    "answerable_wrongly_refused",
    "citation_precision",
    "citation_recall",
    "mc_accuracy",
    "f1",
    "containment",
)
METRIC_NOTES = {
    "hit@1": "a gold article among the first passage",
    "hit@5": "a gold article among the first 5 passages",
    "hit@10": "a gold article among the first 10 passages",
    "recall@5": "share of gold articles among the first 5 passages",
    "mrr@10": "1 / rank of the first gold passage (0 beyond 10)",
    "required_accuracy": "answers containing every required fact",
    "required_groups": "share of required facts found",
    "em": "normalised exact match with the reference",
    "f1": "token F1 with the reference (normalised)",
    "containment": "normalised reference contained in the answer",
    "citation_precision": "citations into a gold article and marked supported",
    "citation_recall": "gold articles cited / gold articles",
    "unsupported_citations": "citations whose claim the passage did not support",
    "unsupported_rate": "unsupported / all citations",
    "unanswerable_refusal_rate": "unanswerable questions refused",
    "answerable_wrongly_refused": "answerable questions refused",
    "answered_rate": "questions answered",
    "mc_accuracy": "multiple-choice pick equals the answer",
    "judged_faithfulness": "LLM-JUDGED: a model's YES/NO on support (not measured)",
    "errors": "questions whose ask raised an error",
    "citations": "citations in all answers",
}


# --- tables ------------------------------------------------------------------------------


COUNT_METRICS = frozenset({"n", "citations", "unsupported_citations", "errors"})


def fmt(value: object, count: bool = False) -> str:
    """A metric value for a table: counts as integers, rates with 3 decimals, '—' if missing."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return str(round(value)) if count else f"{value:.3f}"
    return str(value)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = [
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- failures ------------------------------------------------------------------------------


def failure_badness(result: QuestionResult) -> float | None:
    """How wrong a result is (higher is worse); None when it is not a failure."""
    s = result.scores
    if s.get("error"):
        return 3.0
    if s.get("refused") == 0.0:
        return 2.0
    if s.get("wrongly_refused") == 1.0:
        return 2.0
    if s.get("required") == 0.0:
        return 1.0 + (1.0 - (s.get("required_groups") or 0.0))
    if s.get("mc_correct") == 0.0:
        return 1.0
    if "required" not in s and s.get("containment") == 0.0:
        return 1.0 - (s.get("f1") or 0.0)
    return None


def worst_failures(results: Sequence[QuestionResult], limit: int = 10) -> list[QuestionResult]:
    """The worst failed questions, worst first."""
    scored = [(failure_badness(r), i, r) for i, r in enumerate(results)]
    failed = [(bad, i, r) for bad, i, r in scored if bad is not None]
    failed.sort(key=lambda entry: (-entry[0], entry[1]))
    return [r for _, _, r in failed[:limit]]


def _shorten(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _failure_block(result: QuestionResult) -> str:
    answer = result.answer
    heading = f"### {result.id} ({result.type})"
    lines = [f"**Question:** {result.question}"]
    lines.append(f"**Expected:** {_shorten(result.reference_answer) or '(refusal)'}")
    if result.error:
        lines.append(f"**Error:** {result.error}")
    else:
        status = "answered" if answer.get("answered") else "refused"
        lines.append(f"**Answer ({status}, {answer.get('mode')}):** {_shorten(answer['text'])}")
    if result.missing_groups:
        missing = "; ".join(" or ".join(group) for group in result.missing_groups)
        lines.append(f"**Missing facts:** {missing}")
    if result.mc_pick is not None:
        lines.append(f"**Multiple-choice pick:** {result.mc_pick}")
    cited = [c["doc_id"] for c in answer.get("citations", [])]
    lines.append(f"**Cited:** {', '.join(cited) or 'nothing'}")
    top = [ids[0] if len(ids) == 1 else "+".join(ids) for ids in result.retrieved[:5]]
    lines.append(f"**Retrieved (top 5):** {', '.join(top) or 'nothing'}")
    return heading + "\n\n" + "  \n".join(lines)


# --- report.md -----------------------------------------------------------------------------


def render_report(summary: Summary, worst: int = 10) -> str:
    """report.md: settings, overall and per-type metrics, latency, worst failures."""
    overall = summary.overall
    newsdesk = summary.settings.get("newsdesk", {})
    parts = [
        f"# Evaluation: {summary.dataset}",
        "",
        f"{summary.n} questions, run {summary.started} in {summary.duration_seconds:.1f} s, "
        f"commit `{summary.git_commit or 'unknown'}`.",
        "",
        markdown_table(
            ["setting", "value"],
            [
                ["llm (asked)", summary.settings.get("llm") or "(settings default)"],
                ["k", summary.settings.get("k") or newsdesk.get("top_k", "default")],
                ["retrieval depth", summary.settings.get("retrieval_depth")],
                ["corpus", newsdesk.get("corpus", "—")],
                ["embed model", newsdesk.get("embed_model", "—")],
                ["ollama model", newsdesk.get("ollama_model", "—")],
            ]
            + [[f"version: {name}", version] for name, version in summary.versions.items()],
        ),
        "",
        "## Overall",
        "",
        markdown_table(
            ["metric", "value", "meaning"],
            [
                [name, fmt(value, name in COUNT_METRICS), METRIC_NOTES.get(name, "")]
                for name, value in overall.items()
                if name != "n"
            ],
        ),
        "",
        "Text is normalised as in RealTimeQA (lower-case, punctuation removed, whitespace "
        "collapsed, articles kept), except that Unicode punctuation (curly quotes, dashes) is "
        "removed as well as ASCII punctuation. Retrieval is scored on the top "
        f"{summary.settings.get('retrieval_depth')} passages of `retrieve`; follow-ups on the "
        "passages their answer used. A passage counts for every article carrying its text.",
    ]
    if summary.dataset == "realtimeqa":
        parts += [
            "",
            "RealTimeQA, CNN subset (Kasai et al., arXiv 2207.13332): for internal evaluation "
            "only; cite the paper when reporting these numbers.",
        ]
    if "judged_faithfulness" in overall:
        parts += ["", "`judged_faithfulness` is a model's judgement, not a measurement."]
    type_cols = [name for name in TYPE_METRICS if any(name in t for t in summary.by_type.values())]
    parts += [
        "",
        "## By question type",
        "",
        markdown_table(
            ["type", "n", *type_cols],
            [
                [t, fmt(values.get("n"), True), *(fmt(values.get(c)) for c in type_cols)]
                for t, values in summary.by_type.items()
            ],
        ),
        "",
        "## Latency (milliseconds)",
        "",
        markdown_table(
            ["stage", "p50", "p95", "n"],
            [
                [stage, f"{v['p50'] or 0:.1f}", f"{v['p95'] or 0:.1f}", fmt(v["n"], True)]
                for stage, v in summary.latency.items()
            ],
        ),
    ]
    failures = worst_failures(summary.results, worst)
    parts += ["", f"## Worst failures ({len(failures)} shown)", ""]
    parts += [_failure_block(r) + "\n" for r in failures] or ["None."]
    return "\n".join(parts).rstrip() + "\n"


# --- charts --------------------------------------------------------------------------------


def write_charts(summary: Summary, out_dir: Path) -> list[Path]:
    """scores_by_type.png and latency.png (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    types = list(summary.by_type)
    cols = [c for c in TYPE_METRICS if any(c in summary.by_type[t] for t in types)]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(types) + 2), 4.5))
    width = 0.8 / max(1, len(cols))
    for j, col in enumerate(cols):
        values = [summary.by_type[t].get(col) for t in types]
        xs = [i + j * width for i, v in enumerate(values) if v is not None]
        ax.bar(xs, [v for v in values if v is not None], width, label=col)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(types))], types, rotation=20)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(f"Scores by question type ({summary.dataset})")
    ax.legend(fontsize=7, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.tight_layout()
    path = out_dir / CHART_FILES[0]
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    stages = list(summary.latency)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(stages) + 2), 4))
    p50 = [summary.latency[s]["p50"] or 0.0 for s in stages]
    p95 = [summary.latency[s]["p95"] or 0.0 for s in stages]
    xs = list(range(len(stages)))
    ax.bar([x - 0.2 for x in xs], p50, 0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], p95, 0.4, label="p95")
    ax.set_xticks(xs, stages, rotation=20)
    ax.set_ylabel("milliseconds")
    ax.set_title("Latency per stage")
    ax.legend()
    fig.tight_layout()
    path = out_dir / CHART_FILES[1]
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def write_outputs(summary: Summary, out_dir: Path, *, charts: bool = True) -> list[Path]:
    """Write results.jsonl, summary.json, report.md and (optionally) the charts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.jsonl"
    with results_path.open("w", encoding="utf-8") as handle:
        for result in summary.results:
            handle.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    summary_path = out_dir / "summary.json"
    summary_path.write_text(
        json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    report_path = out_dir / "report.md"
    report_path.write_text(render_report(summary), encoding="utf-8")
    written = [results_path, summary_path, report_path]
    if charts:
        written += write_charts(summary, out_dir)
    return written


# --- comparing runs ------------------------------------------------------------------------


def load_summary(run: Path | str) -> dict[str, Any]:
    """summary.json of a run folder (or the file itself)."""
    path = Path(run)
    if path.is_dir():
        path = path / "summary.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"Cannot read {path}: pass a run folder that holds summary.json ({error})."
        ) from error
    return data


@dataclass(frozen=True)
class MetricDelta:
    """One metric in two runs."""

    metric: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        """b - a, when both runs measured it."""
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass(frozen=True)
class RunComparison:
    """Metric deltas between run A and run B (overall, then per question type)."""

    run_a: str
    run_b: str
    overall: tuple[MetricDelta, ...]
    by_type: dict[str, tuple[MetricDelta, ...]]

    def to_markdown(self) -> str:
        """The deltas as Markdown tables."""
        parts = [f"# {self.run_b} vs {self.run_a}", ""]
        sections = [("overall", self.overall), *self.by_type.items()]
        for name, rows in sections:
            parts += [
                f"## {name}",
                "",
                markdown_table(
                    ["metric", "A", "B", "B - A"],
                    [
                        [
                            d.metric,
                            fmt(d.a, d.metric in COUNT_METRICS),
                            fmt(d.b, d.metric in COUNT_METRICS),
                            "—" if d.delta is None else f"{d.delta:+.3f}",
                        ]
                        for d in rows
                    ],
                ),
                "",
            ]
        return "\n".join(parts)


def _deltas(a: dict[str, Any], b: dict[str, Any]) -> tuple[MetricDelta, ...]:
    names = list(a) + [name for name in b if name not in a]
    return tuple(MetricDelta(name, a.get(name), b.get(name)) for name in names)


def compare_runs(run_a: Path | str, run_b: Path | str) -> RunComparison:
    """Metric deltas of run B against run A (run folders or summary.json paths)."""
    a, b = load_summary(run_a), load_summary(run_b)
    types = list(a.get("by_type", {})) + [
        t for t in b.get("by_type", {}) if t not in a.get("by_type", {})
    ]
    return RunComparison(
        run_a=str(run_a),
        run_b=str(run_b),
        overall=_deltas(a.get("overall", {}), b.get("overall", {})),
        by_type={
            t: _deltas(a.get("by_type", {}).get(t, {}), b.get("by_type", {}).get(t, {}))
            for t in types
        },
    )
