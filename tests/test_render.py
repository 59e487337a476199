"""Unit tests of ui.render: escaping, highlighting, marker links, sources panel, status."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.api import Status
from rag.types import Answer, ArticleMeta, Citation, Passage, Skipped
from tests.fake_newsdesk import FakeNewsdesk
from ui.render import (
    escape_html,
    escape_markdown,
    format_date,
    format_timestamp,
    highlight,
    link_markers,
    render_answer_html,
    render_answer_markdown,
    render_partial_markdown,
    render_sources_html,
    render_status_html,
    render_upload_report,
    uncited_passages,
)

EVIL = (
    "Putin <script>alert(1)</script> met Xi ![x](http://127.0.0.1:9/p.png) "
    '<img src=x onerror="alert(2)"> [1] in **Samarkand** http://example.com.'
)
EVIL_META = ArticleMeta("evil", "<b>Title</b> <script>x()</script>", "<i>Outlet</i>", "2023-01-02")

# The only tags ui.render writes; anything else starting with "<" would come from a document.
OWN_TAG = re.compile(
    r"</?(?:div|ol|ul|li|span|time|blockquote|mark|p|details|summary|code|sup|a|br)\b[^<>]*>"
)

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)


def strip_own_tags(markup: str) -> str:
    return OWN_TAG.sub("", markup)


@pytest.fixture(scope="module")
def fake() -> FakeNewsdesk:
    return FakeNewsdesk(Path(__file__).resolve().parent.parent / "seeds", extra=[(EVIL_META, EVIL)])


def test_escape_html_neutralises_tags() -> None:
    assert escape_html('<script>"x"&') == "&lt;script&gt;&quot;x&quot;&amp;"


def test_escape_markdown_breaks_images_links_and_tags() -> None:
    out = escape_markdown(EVIL)
    for syntax in ("<script", "<img", "![", "](", "http:", "**", "[1]"):
        assert syntax not in out
    assert html.unescape(out) == EVIL


@given(texts)
def test_escape_markdown_round_trips_and_leaves_no_markup(text: str) -> None:
    out = escape_markdown(text)
    assert "<" not in out and ">" not in out and "[" not in out and "`" not in out
    assert html.unescape(out) == text


@given(texts, st.integers(-5, 250), st.integers(-5, 250))
def test_highlight_keeps_all_text_and_adds_only_mark(text: str, start: int, end: int) -> None:
    out = highlight(text, start, end)
    bare = out.replace('<mark class="nd-support">', "").replace("</mark>", "")
    assert "<" not in bare
    assert html.unescape(bare) == text
    assert out.count("<mark") <= 1


def test_highlight_marks_exact_span() -> None:
    assert highlight("a <b> c", 2, 5) == 'a <mark class="nd-support">&lt;b&gt;</mark> c'
    assert highlight("abc", 2, 1) == "abc"  # empty span: no mark


def test_link_markers_links_known_markers_only() -> None:
    out = link_markers("Met in Uzbekistan [1][2]. Also [9].", {1, 2}, anchor="nd-src-m3")
    assert out.count('class="nd-cite"') == 2
    assert 'href="#nd-src-m3-1"' in out and 'href="#nd-src-m3-2"' in out
    assert "nd-src-m3-9" not in out
    assert "&#91;9&#93;" in out  # unknown marker stays visible as text


@given(texts)
def test_link_markers_never_lets_text_markup_through(text: str) -> None:
    out = link_markers(text, range(1, 20))
    assert "<" not in strip_own_tags(out)


def test_answer_markdown_links_citations_and_shows_notes(fake: FakeNewsdesk) -> None:
    answer = fake.xi_putin_answer()
    out = render_answer_markdown(answer, "nd-src-m1")
    assert out.count('class="nd-cite"') == 2
    assert "Shanghai Cooperation Organization" in html.unescape(out)
    assert 'class="nd-notes"' in out and "Ollama is not running" in html.unescape(out)
    noted = replace(answer, notes=("Run `ollama serve` <now>.",))
    assert "<code>ollama serve</code> &lt;now&gt;" in render_answer_markdown(noted)
    assert "nd-unanswered" not in out


def test_answer_html_escapes_model_text() -> None:
    answer = Answer(text="Line <b>1</b> [1]\nline 2", answered=False, mode="extractive")
    out = render_answer_html(answer)
    assert "&lt;b&gt;" in out and "<br>" in out and "nd-unanswered" in out
    assert 'class="nd-cite"' not in out  # no citation 1 exists


def test_partial_markdown_is_escaped() -> None:
    assert "<script" not in render_partial_markdown("<script>x</script> [1]")


def test_sources_panel_shows_meta_and_highlighted_quote(fake: FakeNewsdesk) -> None:
    answer = fake.xi_putin_answer()
    out = render_sources_html(answer, fake.article_text, "nd-src-m1")
    assert 'id="nd-src-m1-1"' in out and 'id="nd-src-m1-2"' in out
    assert (
        '<mark class="nd-support">The two leaders met in September on the sidelines of the '
        "Shanghai Cooperation Organization meeting in Uzbekistan</mark>"
    ) in out
    assert "Washington Examiner" in out and "30 Dec 2022" in out
    assert 'datetime="2022-12-30"' in out
    assert "Not supported" not in out
    assert '<details class="nd-uncited">' in out  # a retrieved, uncited passage
    assert len(uncited_passages(answer)) == 1


def test_sources_panel_marks_unsupported_citations(fake: FakeNewsdesk) -> None:
    answer = fake.xi_putin_answer()
    weak = replace(answer.citations[1], supported=False)
    out = render_sources_html(replace(answer, citations=(answer.citations[0], weak)), None)
    assert out.count("nd-unsupported") == 1
    assert "Not supported by the passage" in out


def test_sources_panel_escapes_document_text(fake: FakeNewsdesk) -> None:
    answer = fake.answer("Samarkand")
    assert answer.citations and answer.citations[0].doc_id == "evil"
    out = render_sources_html(answer, fake.article_text)
    assert "<script" not in out and "<img" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out
    assert 'class="nd-cite"' not in out  # "[1]" inside the article is not a marker
    assert "<" not in strip_own_tags(out)


def test_sources_panel_falls_back_to_article_window(fake: FakeNewsdesk) -> None:
    answer = replace(fake.xi_putin_answer(), passages=())
    out = render_sources_html(answer, fake.article_text)
    assert '<mark class="nd-support">the two last met at a summit in Uzbekistan in the fall' in out
    # Context around the quote, and the whole article behind a <details>.
    assert "Winter Olympics" in out
    assert '<details class="nd-article">' in out


def test_sources_panel_survives_missing_articles(fake: FakeNewsdesk) -> None:
    def broken(doc_id: str) -> str:
        raise KeyError(doc_id)

    answer = replace(fake.xi_putin_answer(), passages=())
    out = render_sources_html(answer, broken)
    assert out.count("<mark") == 2  # the quotes themselves, highlighted
    assert "nd-article" not in out


def test_sources_panel_without_answer_or_citations() -> None:
    assert "appear here" in render_sources_html(None, None)
    empty = Answer(text="The articles do not say.", answered=False, mode="extractive")
    assert "cites no article" in render_sources_html(empty, None)


citations = st.builds(
    Citation,
    n=st.integers(1, 5),
    doc_id=st.sampled_from(["a", "b"]),
    title=texts,
    source=st.none() | texts,
    published=st.none() | texts,
    quote=texts,
    start=st.integers(0, 50),
    end=st.integers(0, 80),
    score=st.floats(0, 1),
    supported=st.booleans(),
)
passages = st.builds(
    Passage,
    chunk_id=texts,
    doc_id=st.sampled_from(["a", "b"]),
    title=texts,
    source=st.none() | texts,
    published=st.none() | texts,
    text=texts,
    start=st.integers(0, 40),
    end=st.integers(0, 120),
    score=st.floats(0, 1),
)


@given(
    st.lists(citations, max_size=4),
    st.lists(passages, max_size=4),
    texts,
    st.lists(texts, max_size=2),
)
def test_sources_and_answer_never_emit_document_markup(
    cites: list[Citation], found: list[Passage], article: str, notes: list[str]
) -> None:
    answer = Answer(
        text=article + " [1]",
        answered=True,
        mode="extractive",
        citations=tuple(cites),
        notes=tuple(notes),
        passages=tuple(found),
    )
    for out in (
        render_sources_html(answer, lambda _doc_id: article),
        render_answer_markdown(answer),
        render_answer_html(answer),
    ):
        assert "<" not in strip_own_tags(out)


def test_format_date_and_timestamp() -> None:
    assert format_date("2023-03-17") == "17 Mar 2023"
    assert format_date(None) == "date unknown"
    assert format_date("spring 2023") == "spring 2023"
    assert format_timestamp("2025-01-01T12:00:00+00:00") == "1 Jan 2025 12:00 UTC"
    assert format_timestamp(None) == "never"


def test_status_line_for_both_modes() -> None:
    extractive = Status(
        mode="extractive",
        model=None,
        mode_note="Ollama is not running: start it with `ollama serve`.",
        articles=5,
        chunks=23,
        last_indexed="2025-01-01T12:00:00+00:00",
    )
    out = render_status_html(extractive)
    assert "extractive fallback" in out and "<code>ollama serve</code>" in out
    assert "5 articles · 23 chunks · last indexed 1 Jan 2025 12:00 UTC" in out
    ollama = replace(extractive, mode="ollama", model="qwen2.5:3b", mode_note=None, articles=1)
    out = render_status_html(ollama)
    assert "<code>qwen2.5:3b</code>" in out and "1 article ·" in out
    assert "extractive" not in out
    err = render_status_html(None, "No articles are indexed: run `newsdesk index` first.")
    assert "nd-status-error" in err and "<code>newsdesk index</code>" in err


def test_upload_report_lists_added_skipped_and_rejected() -> None:
    report = FakeReport(added=4, updated=0, articles=6, skipped=(Skipped("new.txt", "no text"),))
    out = render_upload_report(["new.txt"], ["x.exe is not a supported article file"], report)
    assert "Added to the corpus: new.txt" in out
    assert "Indexed 4 new chunks; the index now holds 6 articles." in out
    assert "Skipped new.txt: no text" in out
    assert "Rejected: x.exe" in out
    same = render_upload_report(["a.txt"], [], FakeReport(0, 0, 6, ()))
    assert "Nothing new to index" in same
    assert "Choose .txt" in render_upload_report()
    assert "&lt;script&gt;" in render_upload_report(["<script>.txt"])


class FakeReport:
    def __init__(
        self, added: int, updated: int, articles: int, skipped: tuple[Skipped, ...]
    ) -> None:
        self.added, self.updated, self.articles, self.skipped = added, updated, articles, skipped
