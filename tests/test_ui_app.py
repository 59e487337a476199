"""The chat UI's `/ask` endpoint over HTTP on loopback, through gradio_client."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from rag.errors import ConfigError, OllamaUnavailableError, QuestionError
from rag.settings import Settings
from rag.types import ANSWER_FIELDS, Answer, TextDelta
from tests.fake_newsdesk import XI_PUTIN_QUESTION, FakeNewsdesk, real_newsdesk, running_app
from ui.app import check_question, final_answer, parse_auth

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

# Question -> a word the cited sentence must contain (each from a different seed sentence).
DISTINCT = {
    "Who went to the Winter Olympics opening ceremony?": "ceremony",
    "What did the Foreign Ministry announce on Friday?": "Foreign Ministry",
    "Where did the Shanghai Cooperation Organization meet?": "Uzbekistan",
    "Which homepage published the video link?": "homepage",
    "Who ordered arms aid from North Korea?": "North Korea",
    "Which joint military exercises were held in December?": "exercises",
}


def _settings(tmp_path: Path, **extra: object) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    return Settings.model_validate({"corpus": corpus, "data_dir": tmp_path / "data", **extra})


# --- pure helpers ---------------------------------------------------------------------------


def test_parse_auth() -> None:
    assert parse_auth(None) is None
    assert parse_auth("editor:s3cr:et") == ("editor", "s3cr:et")
    for bad in ("nocolon", ":pw", "user:"):
        with pytest.raises(ConfigError, match="user:password"):
            parse_auth(bad)


def test_check_question(tmp_path: Path) -> None:
    settings = _settings(tmp_path, max_question_chars=20)
    assert check_question("  Who met?  ", settings) == "Who met?"
    with pytest.raises(QuestionError, match="Type a question"):
        check_question(" \n ", settings)
    with pytest.raises(QuestionError, match="limit is 20"):
        check_question("x" * 21, settings)


def test_final_answer_takes_the_last_event() -> None:
    fake = FakeNewsdesk(SEEDS)
    answer = final_answer(fake, XI_PUTIN_QUESTION)
    assert isinstance(answer, Answer) and answer.citations


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FakeNewsdesk]]:
    fake = FakeNewsdesk(SEEDS, delay=0.3)
    with running_app(fake, _settings(tmp_path_factory.mktemp("ui"))) as url:
        yield url, fake


def _client(url: str, **kwargs: object) -> object:
    from gradio_client import Client

    return Client(url, verbose=False, **kwargs)  # type: ignore[arg-type]


@pytest.mark.integration
def test_ask_endpoint_returns_answer_json(served: tuple[str, FakeNewsdesk]) -> None:
    url, _ = served
    client = _client(url)
    result = client.predict(XI_PUTIN_QUESTION, api_name="/ask")  # type: ignore[attr-defined]
    assert set(result) == set(ANSWER_FIELDS)
    assert result["answered"] is True and result["mode"] == "extractive"
    assert "[1]" in result["text"] and "Uzbekistan" in result["text"]
    first = result["citations"][0]
    seed = (SEEDS / f"{first['doc_id']}.txt").read_text(encoding="utf-8")
    assert seed[first["start"] : first["end"]] == first["quote"]
    assert first["published"] == "2022-12-30" and first["source"] == "Washington Examiner"


@pytest.mark.integration
def test_only_ask_is_public(served: tuple[str, FakeNewsdesk]) -> None:
    url, _ = served
    api = _client(url).view_api(return_format="dict", print_info=False)  # type: ignore[attr-defined]
    assert set(api["named_endpoints"]) == {"/ask"}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "message"),
    [("   ", "Type a question"), ("x" * 2001, "the limit is 2000")],
)
def test_ask_endpoint_reports_question_errors(
    served: tuple[str, FakeNewsdesk], question: str, message: str
) -> None:
    from gradio_client.exceptions import AppError

    url, _ = served
    with pytest.raises(AppError, match=message):
        _client(url).predict(question, api_name="/ask")  # type: ignore[attr-defined]


@pytest.mark.integration
def test_concurrent_clients_get_their_own_answers(served: tuple[str, FakeNewsdesk]) -> None:
    url, fake = served

    def ask(question: str) -> dict[str, object]:
        return _client(url).predict(question, api_name="/ask")  # type: ignore[attr-defined, no-any-return]

    with ThreadPoolExecutor(max_workers=len(DISTINCT)) as pool:
        results = dict(zip(DISTINCT, pool.map(ask, DISTINCT), strict=True))
    for question, result in results.items():
        quote = result["citations"][0]["quote"]  # type: ignore[index]
        assert DISTINCT[question] in quote, (question, quote)
        assert result["text"].startswith(quote)  # type: ignore[attr-defined]
    asked = [q for q, _history in fake.calls]
    assert set(DISTINCT) <= set(asked)


class _DownMidway(FakeNewsdesk):
    """Ollama stops answering after the first words."""

    def stream(self, question, history=None, as_of=None, *, k=None, llm=None):  # type: ignore[no-untyped-def, override]
        yield TextDelta("Xi and")
        raise OllamaUnavailableError("http://127.0.0.1:11434")


class _Broken(FakeNewsdesk):
    def stream(self, question, history=None, as_of=None, *, k=None, llm=None):  # type: ignore[no-untyped-def, override]
        raise RuntimeError("secret internal detail")
        yield  # pragma: no cover


@pytest.mark.integration
def test_ask_endpoint_errors_are_user_messages(tmp_path: Path) -> None:
    from gradio_client.exceptions import AppError

    with (
        running_app(_DownMidway(SEEDS), _settings(tmp_path)) as url,
        pytest.raises(AppError, match="ollama serve"),
    ):
        _client(url).predict(XI_PUTIN_QUESTION, api_name="/ask")  # type: ignore[attr-defined]
    with running_app(_Broken(SEEDS), _settings(tmp_path)) as url:
        with pytest.raises(AppError) as caught:
            _client(url).predict(XI_PUTIN_QUESTION, api_name="/ask")  # type: ignore[attr-defined]
        assert "internal error" in str(caught.value)
        assert "secret" not in str(caught.value)


@pytest.mark.integration
def test_auth_is_required_when_set(tmp_path: Path) -> None:
    from gradio_client.exceptions import AuthenticationError

    with running_app(FakeNewsdesk(SEEDS), _settings(tmp_path, auth="editor:pw")) as url:
        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            _client(url)
        with pytest.raises(ValueError, match="Could not login"):
            _client(url, auth=("editor", "wrong"))
        result = _client(url, auth=("editor", "pw")).predict(  # type: ignore[attr-defined]
            XI_PUTIN_QUESTION, api_name="/ask"
        )
        assert result["answered"] is True


# --- over HTTP, real pipeline (extractive) ---------------------------------------------------

REAL_QUESTIONS = (
    XI_PUTIN_QUESTION,
    "When will Xi visit Russia?",
    "What did Putin say about military cooperation?",
    "Which countries condemned the attack on Ukraine?",
)


@pytest.fixture(scope="module")
def real_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    newsdesk, settings = real_newsdesk(tmp_path_factory.mktemp("real"), SEEDS)
    with running_app(newsdesk, settings) as url:
        yield url, newsdesk


@pytest.mark.integration
@pytest.mark.slow
def test_real_pipeline_answers_through_ask(real_served: tuple[str, Any]) -> None:
    url, newsdesk = real_served
    result = _client(url).predict(XI_PUTIN_QUESTION, api_name="/ask")  # type: ignore[attr-defined]
    assert set(result) == set(ANSWER_FIELDS)
    assert result["answered"] is True and result["mode"] == "extractive"
    assert result["citations"], result
    seed_ids = {path.stem for path in SEEDS.iterdir()}
    for citation in result["citations"]:
        assert f"[{citation['n']}]" in result["text"]
        text = newsdesk.article_text(citation["doc_id"])
        assert text[citation["start"] : citation["end"]] == citation["quote"]
        assert citation["published"] and citation["published"].startswith(("2022", "2023"))
    assert any(c["doc_id"] in seed_ids or c["title"] for c in result["citations"])


@pytest.mark.integration
@pytest.mark.slow
def test_real_pipeline_concurrent_clients_no_cross_talk(real_served: tuple[str, Any]) -> None:
    url, newsdesk = real_served
    expected = {q: newsdesk.ask(q).to_dict() for q in REAL_QUESTIONS}

    def ask(question: str) -> dict[str, Any]:
        return _client(url).predict(question, api_name="/ask")  # type: ignore[attr-defined, no-any-return]

    with ThreadPoolExecutor(max_workers=len(REAL_QUESTIONS)) as pool:
        got = dict(zip(REAL_QUESTIONS, pool.map(ask, REAL_QUESTIONS), strict=True))
    for question in REAL_QUESTIONS:
        assert got[question]["text"] == expected[question]["text"], question
        assert got[question]["citations"] == expected[question]["citations"], question


@pytest.mark.integration
def test_busy_port_is_a_config_error(tmp_path: Path) -> None:
    import socket

    from ui.app import build_app, serve

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = _settings(tmp_path, port=port)
        app = build_app(FakeNewsdesk(SEEDS), settings)
        try:
            with pytest.raises(ConfigError, match=f"127.0.0.1:{port}.*--port"):
                serve(app, settings, block=False, quiet=True)
        finally:
            app.close()
