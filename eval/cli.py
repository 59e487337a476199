"""`newsdesk eval`: run an evaluation set, write its report, compare runs, gate on floors."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from eval.datasets import (
    REALTIMEQA_DEFAULT_DIR,
    EvalItem,
    load_llamaindex_dataset,
    load_realtimeqa,
    load_seed_questions,
    realtimeqa_corpus_to_folder,
)
from rag.errors import ConfigError, NewsdeskError
from rag.settings import Settings, load_settings

if TYPE_CHECKING:
    from eval.runner import Summary
    from rag.protocols import Generator

SEED_QUESTIONS = Path(__file__).with_name("questions.jsonl")
app = typer.Typer(add_completion=False, help="Evaluate Newsdesk on a question set.")


class DatasetName(StrEnum):
    """The evaluation sets `newsdesk eval` knows."""

    seeds = "seeds"
    realtimeqa = "realtimeqa"
    llamaindex = "llamaindex"


def load_items(dataset: DatasetName | str, path: Path | None) -> list[EvalItem]:
    """The items of `dataset`, from `path` or the dataset's default location."""
    name = DatasetName(dataset)
    if name is DatasetName.seeds:
        return load_seed_questions(path or SEED_QUESTIONS)
    if name is DatasetName.realtimeqa:
        return load_realtimeqa(path or REALTIMEQA_DEFAULT_DIR)
    if path is None:
        raise ConfigError("The llamaindex dataset needs --path pointing at a rag_dataset.json.")
    return load_llamaindex_dataset(path)


def _index(settings: Settings, console: Console | None) -> None:
    from index.indexer import index_corpus

    if console is None:
        index_corpus(settings)
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"Indexing {settings.corpus}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = index_corpus(settings, progress=advance)
    console.print(
        f"Indexed {report.articles} articles ({report.added} new chunks, "
        f"{report.unchanged} unchanged) in {report.seconds:.1f} s."
    )


def prepare_realtimeqa(
    settings: Settings, folder: Path | None = None, console: Console | None = None
) -> Settings:
    """Write the RealTimeQA corpus as articles under the data dir, index it (incrementally) in
    its own store, and return settings pointing at that store."""
    base = settings.data_dir / "realtimeqa"
    corpus = base / "corpus"
    realtimeqa_corpus_to_folder(folder or REALTIMEQA_DEFAULT_DIR, corpus)
    own = settings.model_copy(update={"corpus": corpus, "data_dir": base})
    _index(own, console)
    return own


def prepare_llamaindex(settings: Settings, path: Path, console: Console | None = None) -> Settings:
    """Index the `source_files/` folder next to a rag_dataset.json into its own store, when it
    exists; otherwise the configured corpus is used as it is."""
    sources = path.parent / "source_files"
    if not sources.is_dir():
        return settings
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.parent.resolve().name) or "dataset"
    own = settings.model_copy(
        update={"corpus": sources, "data_dir": settings.data_dir / "llamaindex" / slug}
    )
    _index(own, console)
    return own


def ollama_judge(settings: Settings, console: Console | None = None) -> Generator | None:
    """An Ollama generator for judged faithfulness, or None (with a note) if it cannot answer."""
    from rag.ollama_gen import OllamaGenerator

    judge = OllamaGenerator.from_settings(settings)
    try:
        judge.preflight()
    except NewsdeskError as error:
        if console:
            console.print(f"[yellow]No judged faithfulness: {error}[/yellow]")
        return None
    return judge


def run_dataset(
    dataset: DatasetName | str,
    *,
    settings: Settings,
    path: Path | None = None,
    llm: str | None = None,
    k: int | None = None,
    out: Path | None = None,
    limit: int | None = None,
    judge: bool = False,
    console: Console | None = None,
) -> Summary:
    """Load `dataset`, prepare its index, and run it through a `Newsdesk` built for it."""
    from eval.runner import default_out_dir, run_eval
    from rag.api import Newsdesk

    name = DatasetName(dataset)
    items = load_items(name, path)[:limit] if limit else load_items(name, path)
    if name is DatasetName.realtimeqa:
        settings = prepare_realtimeqa(settings, path, console)
    elif name is DatasetName.llamaindex and path is not None:
        settings = prepare_llamaindex(settings, path, console)
    newsdesk = Newsdesk.from_settings(settings)
    generator = ollama_judge(settings, console) if judge else None
    return run_eval(
        newsdesk,
        items,
        k=k,
        llm=llm,
        out_dir=out or default_out_dir(),
        progress=console is not None,
        dataset=name.value,
        judge=generator,
    )


def print_summary(summary: Summary, console: Console) -> None:
    """The headline metrics as a rich table."""
    from rich.table import Table

    from eval.report import COUNT_METRICS, fmt

    table = Table(title=f"{summary.dataset}: {summary.n} questions")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in summary.overall.items():
        table.add_row(name, fmt(value, name in COUNT_METRICS))
    console.print(table)
    console.print(f"Report: {Path(summary.out_dir) / 'report.md'}")


def eval_command(
    dataset: Annotated[
        DatasetName, typer.Argument(help="Question set: seeds, realtimeqa or llamaindex.")
    ] = DatasetName.seeds,
    dataset_option: Annotated[
        DatasetName | None,
        typer.Option("--dataset", help="Question set (same as the argument)."),
    ] = None,
    path: Annotated[
        Path | None,
        typer.Option(help="questions.jsonl (seeds), the RealTimeQA folder, or a rag_dataset.json."),
    ] = None,
    llm: Annotated[
        str | None, typer.Option(help="auto, ollama or extractive (default: settings).")
    ] = None,
    k: Annotated[int | None, typer.Option(help="Passages handed to the answer step.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: eval/runs/<timestamp>).")
    ] = None,
    compare: Annotated[
        tuple[Path, Path] | None,
        typer.Option(metavar="RUN_A RUN_B", help="Print metric deltas of two runs and exit."),
    ] = None,
    corpus: Annotated[Path | None, typer.Option(help="Folder of articles.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Folder of the index.")] = None,
    limit: Annotated[int | None, typer.Option(help="Ask only the first N questions.")] = None,
    judge: Annotated[
        bool, typer.Option(help="Add LLM-judged faithfulness (needs Ollama).")
    ] = False,
    gate: Annotated[
        bool, typer.Option(help="Exit 1 when a metric misses eval/thresholds.toml.")
    ] = False,
) -> None:
    """Evaluate answers and retrieval on a question set and write a report."""
    from eval.report import compare_runs
    from eval.runner import check_gate, load_thresholds

    console = Console()
    dataset = dataset_option or dataset
    try:
        if compare:
            console.print(compare_runs(*compare).to_markdown(), markup=False, highlight=False)
            return
        settings = load_settings(corpus=corpus, data_dir=data_dir)
        summary = run_dataset(
            dataset,
            settings=settings,
            path=path,
            llm=llm,
            k=k,
            out=out,
            limit=limit,
            judge=judge,
            console=console,
        )
        print_summary(summary, console)
        if gate:
            mode = llm or settings.llm
            failures = check_gate(summary, load_thresholds(DatasetName(dataset).value, mode))
            for failure in failures:
                console.print(f"[red]Below threshold:[/red] {failure}")
            if failures:
                raise typer.Exit(1)
            console.print("[green]Every metric meets its threshold.[/green]")
    except NewsdeskError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error


def register(parent: typer.Typer) -> None:
    """Add `eval` as a command of another typer app (the `newsdesk` CLI)."""
    parent.command("eval")(eval_command)


register(app)

if __name__ == "__main__":
    app()
