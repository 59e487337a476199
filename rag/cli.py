"""The `newsdesk` command line: index, ask, chat, doctor, eval.

This is an edge: `NewsdeskError`s become one line on stderr and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.errors import NewsdeskError
from rag.settings import Settings, load_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Newsdesk: answers about news articles, every claim cited with outlet and date.",
)


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except Exception as exc:  # pydantic ValidationError: say which setting is wrong
        _fail(f"Invalid setting: {exc}")
        raise  # unreachable


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"newsdesk: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def index(
    corpus: Annotated[Path | None, typer.Option(help="Folder of articles.")] = None,
    rebuild: Annotated[bool, typer.Option(help="Drop the index and embed everything.")] = False,
    stats: Annotated[bool, typer.Option(help="Only print what the index holds.")] = False,
) -> None:
    """Index the corpus folder incrementally (only new or changed articles are embedded)."""
    from rich.console import Console
    from rich.progress import Progress

    settings = _settings(corpus=corpus)
    console = Console(stderr=True)
    try:
        from index.store import ChromaStore

        store = ChromaStore.from_settings(settings)
        if stats:
            _print_stats(store)
            return
        from index.indexer import index_corpus

        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Embedding chunks", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = index_corpus(settings, store=store, rebuild=rebuild, progress=advance)
        _export_for_answers(settings, console)
    except NewsdeskError as exc:
        _fail(str(exc))
        return
    for skipped in report.skipped:
        console.print(f"[yellow]skipped[/] {skipped.path}: {skipped.reason}")
    typer.echo(
        f"{report.articles} articles, {report.chunks} chunks: {report.added} added, "
        f"{report.unchanged} unchanged, {report.updated} updated, {report.removed} removed; "
        f"{len(report.skipped)} files skipped; {report.seconds:.2f} s"
    )


def _export_for_answers(settings: Settings, console: Any) -> None:
    """Export the embedding model to ONNX once, so answering starts fast."""
    from index.embed import ensure_onnx_export, onnx_path

    if settings.embed_backend == "sentence-transformers" or onnx_path(settings).is_file():
        return
    console.print("Exporting the embedding model to ONNX for fast answers (once)...")
    try:
        ensure_onnx_export(settings)
    except Exception as exc:  # answering still works through sentence-transformers
        console.print(
            f"[yellow]ONNX export skipped[/] ({type(exc).__name__}); answers use "
            "sentence-transformers."
        )


def _print_stats(store: Any) -> None:
    name, dim = store.model_record()
    typer.echo(
        f"{store.article_count()} articles, {store.chunk_count()} chunks; "
        f"embedding model {name or 'none yet'} ({dim or '?'} dimensions); "
        f"last indexed {store.last_indexed() or 'never'}"
    )
    for article in store.articles():
        typer.echo(
            f"  {article.published or 'undated':10}  {article.source or 'unknown outlet':28.28}  "
            f"{article.chunks:3} chunks  {article.title}"
        )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
    k: Annotated[int | None, typer.Option(help="Passages handed to the answer step.")] = None,
    llm: Annotated[str | None, typer.Option(help="auto, ollama or extractive.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Answer as if today were YYYY-MM-DD.")
    ] = None,
) -> None:
    """Answer one question from the indexed articles."""
    settings = _settings(llm=llm)
    try:
        from rag.api import Newsdesk

        answer = Newsdesk.from_settings(settings).ask(question, as_of=as_of, k=k)
    except NewsdeskError as exc:
        _fail(str(exc))
        return
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(answer.text)
    if answer.citations:
        typer.echo("")
        for c in answer.citations:
            mark = "" if c.supported else "  (not supported by the passage)"
            typer.echo(
                f"[{c.n}] {c.title} — {c.source or 'unknown outlet'}, "
                f"{c.published or 'undated'}{mark}\n    “{c.quote}”"
            )
    for note in answer.notes:
        typer.echo(f"note: {note}", err=True)


@app.command()
def chat(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 7860).")] = None,
) -> None:
    """Serve the chat UI (default http://127.0.0.1:7860)."""
    settings = _settings(host=host, port=port)
    try:
        from ui.app import launch

        launch(settings)
    except NewsdeskError as exc:
        _fail(str(exc))


@app.command()
def doctor() -> None:
    """Check the index, the embedding model and Ollama; say what to do about each problem."""
    settings = _settings()
    problems = 0

    def report(ok: bool, what: str, advice: str = "") -> None:
        nonlocal problems
        problems += not ok
        typer.echo(f"{'ok ' if ok else 'FIX'}  {what}" + (f"\n     {advice}" if advice else ""))

    model_dir = Path(settings.embed_model)
    report(
        (model_dir.is_dir() and any(model_dir.glob("*.safetensors")))
        or not model_dir.is_absolute(),
        f"embedding model: {settings.embed_model or 'not configured'}",
        ""
        if model_dir.is_dir()
        else "Run `make install`, or set NEWSDESK_EMBED_MODEL to a "
        "sentence-transformers model folder.",
    )
    try:
        from index.embed import model_label
        from index.store import ChromaStore

        store = ChromaStore.from_settings(settings)
        articles, chunks = store.article_count(), store.chunk_count()
        name, dim = store.model_record()
        report(
            articles > 0,
            f"index: {articles} articles, {chunks} chunks in "
            f"{settings.chroma_url or settings.chroma_path}",
            "" if articles else "Run `newsdesk index` to index the corpus folder.",
        )
        if name:
            wanted = model_label(settings.embed_model)
            report(
                name == wanted,
                f"index embedding model: {name} ({dim} dimensions)",
                "" if name == wanted else "Run `newsdesk index --rebuild` to re-embed.",
            )
    except NewsdeskError as exc:
        report(False, "index", str(exc))
    try:
        from rag.ollama_gen import OllamaGenerator

        OllamaGenerator.from_settings(settings).preflight()
        report(True, f"Ollama at {settings.ollama_host} with model {settings.ollama_model}")
    except NewsdeskError as exc:
        report(
            False,
            f"Ollama at {settings.ollama_host}",
            f"{exc} (Newsdesk still answers extractively.)",
        )
    raise typer.Exit(1 if problems else 0)


def _mount_eval() -> None:
    try:
        from eval.cli import register
    except ImportError:
        return
    register(app)


_mount_eval()


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
