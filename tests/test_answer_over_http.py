"""The whole answer path against a fake Ollama over real HTTP, and the `newsdesk` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.api import Newsdesk
from rag.errors import OllamaModelMissingError
from tests.fake_ollama import FakeOllama, newsdesk_on

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent


def _newsdesk(seeded_newsdesk, fake: FakeOllama, llm: str = "auto") -> Newsdesk:  # type: ignore[no-untyped-def]
    return newsdesk_on(fake, seeded_newsdesk, llm)


def test_generated_answer_is_streamed_and_checked(seeded_newsdesk, fake_ollama) -> None:  # type: ignore[no-untyped-def]
    newsdesk = _newsdesk(seeded_newsdesk, fake_ollama)
    question = "How many times has Xi met Putin in person?"
    passages = newsdesk.retrieve(question)
    n = next(i for i, p in enumerate(passages, 1) if "39 times" in p.text)
    fake_ollama.reply = (
        f"Xi has met Putin in person 39 times [{n}]. They also went golfing on Mars [{n}][9]."
    )
    events = list(newsdesk.stream(question))
    answer = events[-1]
    assert answer.mode == "ollama" and answer.model == "qwen2.5:3b"
    assert len(events) > 3  # streamed in pieces
    assert "[9]" not in answer.text
    [citation] = answer.citations
    assert citation.n == n and not citation.supported  # the Mars claim is not in the passage
    sent = fake_ollama.sent_text()
    assert question in sent and "<articles>" in sent and "39 times" in sent


def test_missing_model_in_auto_mode_falls_back(seeded_newsdesk, fake_ollama) -> None:  # type: ignore[no-untyped-def]
    fake_ollama.models = ["llama3.2:latest"]
    answer = _newsdesk(seeded_newsdesk, fake_ollama).ask("How many times has Xi met Putin?")
    assert answer.mode == "extractive" and answer.answered
    assert any("ollama pull qwen2.5:3b" in note for note in answer.notes)


def test_missing_model_in_ollama_mode_raises(seeded_newsdesk, fake_ollama) -> None:  # type: ignore[no-untyped-def]
    fake_ollama.models = []
    with pytest.raises(OllamaModelMissingError, match=r"ollama pull qwen2\.5:3b"):
        _newsdesk(seeded_newsdesk, fake_ollama, llm="ollama").ask("When did they meet?")


def _cli(args: list[str], settings, **env: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    environment = {
        **os.environ,
        "NEWSDESK_DATA_DIR": str(settings.data_dir),
        "NEWSDESK_CORPUS": str(settings.corpus),
        "OLLAMA_HOST": "127.0.0.1:9",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "rag", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=180,
    )


def test_cli_ask_json_extractive(seeded_settings) -> None:  # type: ignore[no-untyped-def]
    done = _cli(["ask", "When did Xi and Putin last meet?", "--json"], seeded_settings)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert list(answer) == ["text", "answered", "mode", "citations", "model", "notes", "timings"]
    assert answer["answered"] and answer["mode"] == "extractive"
    assert any("ollama serve" in note for note in answer["notes"])
    assert {"n", "doc_id", "quote", "start", "end", "supported"} <= set(answer["citations"][0])
    refused = json.loads(
        _cli(["ask", "Who won the 2022 FIFA World Cup?", "--json"], seeded_settings).stdout
    )
    assert refused["answered"] is False


def test_cli_ollama_mode_fails_with_one_actionable_line(seeded_settings) -> None:  # type: ignore[no-untyped-def]
    done = _cli(["ask", "When did they meet?", "--llm", "ollama"], seeded_settings)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "newsdesk: Ollama is not running at http://127.0.0.1:9: start it with `ollama serve`."
    ]


def test_cli_index_twice_adds_nothing(seeded_settings) -> None:  # type: ignore[no-untyped-def]
    done = _cli(["index"], seeded_settings)
    assert done.returncode == 0, done.stderr
    assert "5 articles" in done.stdout and " 0 added" in done.stdout


def test_cli_doctor_explains_missing_ollama(seeded_settings) -> None:  # type: ignore[no-untyped-def]
    done = _cli(["doctor"], seeded_settings)
    assert done.returncode == 1
    assert "ollama serve" in done.stdout and "5 articles" in done.stdout
