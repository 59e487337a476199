"""The chat UI in headless Chromium (Playwright): real extractive pipeline over the seeds,
plus a stand-in Newsdesk for hostile articles, follow-ups and failures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.errors import OllamaUnavailableError
from rag.settings import Settings
from rag.types import ArticleMeta, TextDelta
from tests.fake_newsdesk import XI_PUTIN_QUESTION, FakeNewsdesk, real_newsdesk, running_app

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
ARTIFACTS = REPO / "test-artifacts"
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]

PIXEL = "http://127.0.0.1:9/pixel.png"
HOSTILE_QUOTE = (
    f"Putin <script>window.__pwned = 1</script> met Xi ![x]({PIXEL}) "
    '<img src="/x.png" onerror="window.__pwned = 2"> in Samarkand.'
)
HOSTILE_META = ArticleMeta(
    "hostile", "<script>window.__pwned = 3</script>Hostile title", "<b>Outlet</b>", "2023-01-02"
)
HOSTILE_QUESTION = "Where did they meet in Samarkand?"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def _settings(folder: Path) -> Settings:
    return Settings.model_validate(
        {"corpus": folder / "corpus", "data_dir": folder / "data", "llm": "extractive"}
    )


@pytest.fixture(scope="module")
def real_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The UI over the real pipeline (extractive), with the seeds indexed in a temp folder."""
    newsdesk, settings = real_newsdesk(tmp_path_factory.mktemp("real-ui"), SEEDS)
    with running_app(newsdesk, settings) as url:
        yield url, newsdesk


def _bot_messages(page: Any) -> Any:
    return page.locator("#nd-chat [data-testid='bot']")


def _ask(page: Any, question: str) -> None:
    before = _bot_messages(page).count()
    page.fill("#nd-question textarea", question)
    page.click("#nd-ask")
    page.wait_for_function(
        "n => document.querySelectorAll(\"#nd-chat [data-testid='bot']\").length > n",
        arg=before,
    )


def _wait_final(page: Any) -> str:
    """Wait until the latest bot message is no longer streaming; return its text."""
    last = _bot_messages(page).last
    page.wait_for_function(
        """() => { const m = [...document.querySelectorAll("#nd-chat [data-testid='bot']")].pop();
                   return m && (m.querySelector('.nd-answer, .nd-error') !== null); }"""
    )
    return str(last.inner_text())


@pytest.mark.slow
def test_example_question_cites_a_seed_with_highlight(
    page: Any, real_served: tuple[str, Any]
) -> None:
    url, newsdesk = real_served
    page.goto(url)
    page.wait_for_selector("#nd-status .nd-mode")
    status = page.inner_text("#nd-status")
    assert "extractive fallback" in status and "5 articles" in status
    page.click("#nd-example-0")
    page.wait_for_selector("#nd-sources mark.nd-support")
    answer = _wait_final(page)
    assert "[1]" in answer
    links = page.locator("#nd-chat a.nd-cite")
    assert links.count() >= 1
    panel = page.inner_text("#nd-sources")
    seed_titles = {a.title for a in newsdesk.articles() if (SEEDS / a.path).exists()}
    assert any(title in panel for title in seed_titles), panel
    assert re.search(r"\d{1,2} (Dec 2022|Mar 2023)", panel), panel
    marked = page.locator("#nd-sources mark.nd-support").first.inner_text()
    assert "Xi" in marked or "Putin" in marked or "met" in marked
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"), full_page=True)

    # A marker scrolls to (and flashes) its source entry.
    first = links.first
    target = str(first.get_attribute("href")).lstrip("#")
    first.click()
    page.wait_for_function(
        "id => document.getElementById(id)?.classList.contains('nd-flash')", arg=target
    )


@pytest.mark.slow
def test_corpus_tab_lists_articles_and_takes_uploads(
    page: Any, real_served: tuple[str, Any], tmp_path: Path
) -> None:
    url, _ = real_served
    page.goto(url)
    page.get_by_role("tab", name="Corpus").click()
    page.wait_for_selector("#nd-articles")
    page.wait_for_function(
        "() => document.querySelector('#nd-articles').innerText.includes('India Today')"
    )
    good = tmp_path / "tulips.md"
    good.write_text(
        "---\ntitle: Tulip season opens in Amsterdam\nsource: Test Gazette\n"
        "published: 2023-04-01\n---\n\nThe tulip season opened in Amsterdam on Saturday, "
        "with record crowds at the flower market.\n",
        encoding="utf-8",
    )
    page.set_input_files("#nd-upload input[type=file]", [str(good)])
    page.wait_for_selector("#nd-upload-report .nd-ok")
    report = page.inner_text("#nd-upload-report")
    assert "Added to the corpus: tulips.md" in report
    page.wait_for_function(
        "() => document.querySelector('#nd-articles').innerText.includes('Tulip season')"
    )
    assert "6 articles" in page.inner_text("#nd-status")

    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    page.set_input_files("#nd-upload input[type=file]", [str(empty)])
    page.wait_for_selector("#nd-upload-report .nd-reject")
    assert "Rejected: empty.txt is empty" in page.inner_text("#nd-upload-report")


@pytest.fixture(scope="module")
def fake_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FakeNewsdesk]]:
    folder = tmp_path_factory.mktemp("fake-ui")
    (folder / "corpus").mkdir()
    fake = FakeNewsdesk(
        SEEDS,
        extra=[(HOSTILE_META, HOSTILE_QUOTE + "\n")],
        canned={HOSTILE_QUESTION: ("hostile", HOSTILE_QUOTE)},
    )
    with running_app(fake, _settings(folder)) as url:
        yield url, fake


def test_article_markup_renders_as_text_and_loads_nothing(
    page: Any, fake_served: tuple[str, FakeNewsdesk]
) -> None:
    url, _ = fake_served
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    _ask(page, HOSTILE_QUESTION)
    answer = _wait_final(page)
    page.wait_for_selector("#nd-sources mark.nd-support")
    assert "<script>window.__pwned = 1</script>" in answer
    assert f"![x]({PIXEL})" in answer
    panel = page.inner_text("#nd-sources")
    assert "<script>window.__pwned = 3</script>Hostile title" in panel
    assert "<b>Outlet</b>" in panel
    assert page.evaluate("window.__pwned") is None
    loaded = "#nd-sources img, #nd-sources script, #nd-chat .message-content img"
    assert page.locator(loaded).count() == 0
    assert not [r for r in requests if "pixel.png" in r or r.endswith("/x.png")]


def test_follow_ups_carry_history_and_new_chat_clears_it(
    browser: Any, page: Any, fake_served: tuple[str, FakeNewsdesk]
) -> None:
    url, fake = fake_served
    page.goto(url)
    page.click("#nd-example-0")
    _wait_final(page)
    first_answer = fake.xi_putin_answer().text
    _ask(page, "Where is Uzbekistan summit?")
    _wait_final(page)
    question, history = fake.calls[-1]
    assert question == "Where is Uzbekistan summit?"
    assert history == [
        {"role": "user", "content": XI_PUTIN_QUESTION},
        {"role": "assistant", "content": first_answer},
    ]

    # Another reader, at the same time, starts with an empty conversation.
    other = browser.new_context().new_page()
    other.set_default_timeout(TIMEOUT_MS)
    other.goto(url)
    _ask(other, "Which homepage published the video link?")
    _wait_final(other)
    assert fake.calls[-1] == ("Which homepage published the video link?", [])
    assert _bot_messages(other).count() == 1
    other.context.close()

    page.click("#nd-new-chat")
    page.wait_for_function("() => !document.querySelector(\"#nd-chat [data-testid='bot']\")")
    assert "appear here" in page.inner_text("#nd-sources")
    _ask(page, "Where is Uzbekistan summit?")
    _wait_final(page)
    assert fake.calls[-1] == ("Where is Uzbekistan summit?", [])


def test_question_errors_are_friendly(page: Any, fake_served: tuple[str, FakeNewsdesk]) -> None:
    url, _ = fake_served
    page.goto(url)
    _ask(page, "x" * 2001)
    message = _wait_final(page)
    assert "limit is 2000" in message
    assert page.input_value("#nd-question textarea") == "x" * 2001  # kept for editing


class _DownMidway(FakeNewsdesk):
    """Ollama stops answering after the first words."""

    def stream(self, question, history=None, as_of=None, *, k=None, llm=None):  # type: ignore[no-untyped-def, override]
        yield TextDelta("Xi and Putin")
        raise OllamaUnavailableError("http://127.0.0.1:11434")


def test_ollama_failure_mid_answer_shows_a_message(page: Any, tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    with running_app(_DownMidway(SEEDS), _settings(tmp_path)) as url:
        page.goto(url)
        _ask(page, XI_PUTIN_QUESTION)
        message = _wait_final(page)
    assert "Ollama is not running" in message and "ollama serve" in message
    assert "Traceback" not in page.content()
