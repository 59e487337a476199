"""Turn answers and passages into safe HTML for the chat UI.

Every piece of text that comes from an article or a user is escaped before any markup is
added, so a document holding `<script>`, raw HTML or a Markdown image renders as plain text
and loads nothing. Citation markers `[n]` are recognised only in the answer's own text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from rag.api import Status
from rag.types import Answer, Citation, Passage

MARKER_RE = re.compile(r"\[(\d{1,3})\]")

ArticleTextLookup = Callable[[str], "str | None"]

# Characters Markdown (CommonMark, GFM, autolinks, LaTeX delimiters) may act on. Writing them
# as numeric character references keeps them visible while no parser treats them as syntax.
_MARKDOWN_SPECIALS = "\\`*_{}[]()#+-.!|~:$=@^"
_MARKDOWN_TABLE = {ord(c): f"&#{ord(c)};" for c in _MARKDOWN_SPECIALS} | {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
    ord("'"): "&#x27;",
}

DEFAULT_ANCHOR = "nd-src"

# Context shown around a quote when no retrieved passage contains it.
_CONTEXT_CHARS = 280
# Whole articles above this size are not inlined in the sources panel.
_MAX_INLINE_ARTICLE = 40_000


def escape_html(text: str) -> str:
    """Escape text for an HTML element or attribute (`&`, `<`, `>`, quotes)."""
    return html.escape(text, quote=True)


def escape_markdown(text: str) -> str:
    """Escape text for a Markdown renderer that also accepts HTML (the chat bubbles).

    HTML specials and every Markdown-active character become character references, so
    neither links, images, emphasis nor raw tags survive; line breaks are kept.
    """
    return text.translate(_MARKDOWN_TABLE)


def highlight(text: str, start: int, end: int) -> str:
    """Escape `text` and wrap `text[start:end]` in `<mark>`; offsets are clamped to the text."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    if start == end:
        return escape_html(text)
    return (
        escape_html(text[:start])
        + '<mark class="nd-support">'
        + escape_html(text[start:end])
        + "</mark>"
        + escape_html(text[end:])
    )


def source_id(anchor: str, n: int) -> str:
    """The element id of source `n` in the sources panel of the answer `anchor`."""
    return f"{anchor}-{n}"


def marker_link(n: int, anchor: str = DEFAULT_ANCHOR) -> str:
    """The superscript link a citation marker `[n]` becomes."""
    target = source_id(anchor, n)
    return (
        f'<sup class="nd-cite-sup"><a class="nd-cite" href="#{target}" '
        f'title="Show source {n}">&#91;{n}&#93;</a></sup>'
    )


def link_markers(
    text: str,
    known: Iterable[int],
    *,
    escape: Callable[[str], str] = escape_markdown,
    anchor: str = DEFAULT_ANCHOR,
) -> str:
    """Escape `text` and turn each `[n]` whose `n` is in `known` into a link to source `n`.

    Markers with no matching citation stay as (escaped) text.
    """
    wanted = set(known)
    parts: list[str] = []
    last = 0
    for match in MARKER_RE.finditer(text):
        n = int(match.group(1))
        if n not in wanted:
            continue
        parts.append(escape(text[last : match.start()]))
        parts.append(marker_link(n, anchor))
        last = match.end()
    parts.append(escape(text[last:]))
    return "".join(parts)


_CODE_RE = re.compile(r"`([^`]+)`")


def _with_code(text: str, escape: Callable[[str], str] = escape_html) -> str:
    """Escape `text`, showing `backticked` commands as `<code>`."""
    parts = _CODE_RE.split(text)
    return "".join(
        f"<code>{escape(part)}</code>" if i % 2 else escape(part) for i, part in enumerate(parts)
    )


def _notes_html(notes: Iterable[str], escape: Callable[[str], str]) -> str:
    items = "".join(f"<li>{_with_code(note, escape)}</li>" for note in notes)
    return f'<div class="nd-notes"><ul>{items}</ul></div>' if items else ""


def _answer_body(answer: Answer, escape: Callable[[str], str], anchor: str) -> str:
    known = (c.n for c in answer.citations)
    text = link_markers(answer.text.strip(), known, escape=escape, anchor=anchor)
    css = "nd-answer" if answer.answered else "nd-answer nd-unanswered"
    return f'<div class="{css}">{text}</div>' + _notes_html(answer.notes, escape)


def render_answer_markdown(answer: Answer, anchor: str = DEFAULT_ANCHOR) -> str:
    """The chat-bubble content of a final answer: linked markers, then the notes."""
    return _answer_body(answer, escape_markdown, anchor)


def render_answer_html(answer: Answer, anchor: str = DEFAULT_ANCHOR) -> str:
    """The answer as a standalone HTML fragment (line breaks as `<br>`)."""

    def escape(text: str) -> str:
        return escape_html(text).replace("\n", "<br>")

    return _answer_body(answer, escape, anchor)


def render_partial_markdown(text: str) -> str:
    """The chat-bubble content while an answer is still streaming in."""
    return escape_markdown(text)


def render_error_markdown(message: str) -> str:
    """A chat bubble for a problem the reader can act on."""
    return f'<div class="nd-error">⚠ {escape_markdown(message)}</div>'


def format_date(published: str | None) -> str:
    """`2023-03-17` -> `17 Mar 2023`; anything else is shown as given, missing as unknown."""
    if not published:
        return "date unknown"
    try:
        return date.fromisoformat(published[:10]).strftime("%-d %b %Y")
    except ValueError:
        return published


def _meta_html(title: str, source: str | None, published: str | None) -> str:
    outlet = escape_html(source) if source else "outlet unknown"
    when = escape_html(format_date(published))
    time_tag = (
        f'<time datetime="{escape_html(published)}">{when}</time>'
        if published
        else f"<span>{when}</span>"
    )
    return (
        f'<span class="nd-title">{escape_html(title)}</span>'
        f'<span class="nd-meta"><span class="nd-outlet">{outlet}</span> · {time_tag}</span>'
    )


def _holds(passage: Passage, citation: Citation) -> bool:
    same_doc = passage.doc_id == citation.doc_id or citation.doc_id in passage.doc_ids
    return same_doc and passage.start <= citation.start and citation.end <= passage.end


def _snap_window(text: str, start: int, end: int) -> tuple[int, int]:
    """A window of about `_CONTEXT_CHARS` around `start:end`, cut at whitespace."""
    lo = max(0, start - _CONTEXT_CHARS)
    hi = min(len(text), end + _CONTEXT_CHARS)
    if lo > 0:
        space = text.find(" ", lo, start)
        lo = space + 1 if space != -1 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    return lo, hi


def _safe_lookup(lookup: ArticleTextLookup | None, doc_id: str) -> str | None:
    if lookup is None:
        return None
    try:
        return lookup(doc_id)
    except Exception:  # a missing article must not break the panel
        return None


def _quote_in_article(citation: Citation, article: str | None) -> bool:
    return bool(article) and article[citation.start : citation.end] == citation.quote  # type: ignore[index]


def _citation_passage_html(
    citation: Citation, passages: Iterable[Passage], article: str | None
) -> str:
    for passage in passages:
        if _holds(passage, citation):
            offset = passage.start
            body = highlight(passage.text, citation.start - offset, citation.end - offset)
            return f'<blockquote class="nd-passage">{body}</blockquote>'
    if article is not None and _quote_in_article(citation, article):
        lo, hi = _snap_window(article, citation.start, citation.end)
        body = highlight(article[lo:hi], citation.start - lo, citation.end - lo)
        before = "… " if lo > 0 else ""
        after = " …" if hi < len(article) else ""
        return f'<blockquote class="nd-passage">{before}{body}{after}</blockquote>'
    body = highlight(citation.quote, 0, len(citation.quote))
    return f'<blockquote class="nd-passage">{body}</blockquote>'


def _whole_article_html(citation: Citation, article: str | None) -> str:
    if not article or len(article) > _MAX_INLINE_ARTICLE:
        return ""
    if _quote_in_article(citation, article):
        body = highlight(article, citation.start, citation.end)
    else:
        body = escape_html(article)
    return (
        '<details class="nd-article"><summary>Whole article</summary>'
        f'<div class="nd-article-text">{body}</div></details>'
    )


def render_citation_html(
    citation: Citation,
    passages: Iterable[Passage],
    article: str | None,
    anchor: str = DEFAULT_ANCHOR,
) -> str:
    """One entry of the sources panel: title, outlet, date and the highlighted quote."""
    passages = tuple(passages)
    css = "nd-source" if citation.supported else "nd-source nd-unsupported"
    warning = (
        ""
        if citation.supported
        else '<p class="nd-warning">⚠ Not supported by the passage: the cited text does '
        "not clearly back this claim.</p>"
    )
    return (
        f'<li id="{source_id(anchor, citation.n)}" class="{css}">'
        f'<div class="nd-source-head"><span class="nd-n">&#91;{citation.n}&#93;</span>'
        f"{_meta_html(citation.title, citation.source, citation.published)}</div>"
        f"{_citation_passage_html(citation, passages, article)}"
        f"{warning}"
        f"{_whole_article_html(citation, article)}"
        "</li>"
    )


def uncited_passages(answer: Answer) -> list[Passage]:
    """Retrieved passages that hold none of the answer's citations."""
    return [p for p in answer.passages if not any(_holds(p, c) for c in answer.citations)]


def render_passage_html(passage: Passage) -> str:
    """A retrieved passage that the answer does not cite."""
    return (
        '<li class="nd-retrieved">'
        f'<div class="nd-source-head">'
        f"{_meta_html(passage.title, passage.source, passage.published)}</div>"
        f'<blockquote class="nd-passage">{escape_html(passage.text)}</blockquote></li>'
    )


def render_sources_html(
    answer: Answer | None,
    article_text_lookup: ArticleTextLookup | None,
    anchor: str = DEFAULT_ANCHOR,
) -> str:
    """The sources panel: every citation with its highlighted span, then uncited passages."""
    if answer is None:
        return (
            '<div class="nd-sources nd-empty"><p>Sources of the latest answer '
            "appear here.</p></div>"
        )
    citations = sorted({c.n: c for c in answer.citations}.values(), key=lambda c: c.n)
    parts = ['<div class="nd-sources">']
    if citations:
        parts.append('<ol class="nd-citations">')
        for citation in citations:
            article = _safe_lookup(article_text_lookup, citation.doc_id)
            parts.append(render_citation_html(citation, answer.passages, article, anchor))
        parts.append("</ol>")
    else:
        parts.append('<p class="nd-none">This answer cites no article.</p>')
    rest = uncited_passages(answer)
    if rest:
        label = "passage" if len(rest) == 1 else "passages"
        parts.append(
            f'<details class="nd-uncited"><summary>{len(rest)} more retrieved {label} '
            '(not cited)</summary><ul class="nd-retrieved-list">'
        )
        parts.extend(render_passage_html(p) for p in rest)
        parts.append("</ul></details>")
    parts.append("</div>")
    return "".join(parts)


def format_timestamp(value: str | None) -> str:
    """An ISO timestamp as `1 Jan 2025 12:00 UTC`; unknown as `never`."""
    if not value:
        return "never"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    zone = ""
    if moment.utcoffset() is not None:
        zone = " UTC" if moment.utcoffset() == timedelta(0) else moment.strftime(" %z")
    return moment.strftime("%-d %b %Y %H:%M") + zone


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def render_status_html(status: Status | None, error: str | None = None) -> str:
    """The status line: the answer mode (and how to enable generation), then index stats."""
    if status is None:
        message = _with_code(error or "Status unavailable.")
        return f'<div class="nd-status nd-status-error">⚠ {message}</div>'
    if status.mode == "ollama":
        model = escape_html(status.model or "unknown model")
        mode = f'<span class="nd-mode nd-mode-ollama">Ollama · <code>{model}</code></span>'
    else:
        note = status.mode_note or ""
        mode = (
            '<span class="nd-mode nd-mode-extractive">extractive fallback</span>'
            f' <span class="nd-mode-note">{_with_code(note)}</span>'
        )
    stats = (
        f"{_plural(status.articles, 'article')} · {_plural(status.chunks, 'chunk')} · "
        f"last indexed {escape_html(format_timestamp(status.last_indexed))}"
    )
    return f'<div class="nd-status">{mode}<span class="nd-stats">{stats}</span></div>'


def render_upload_report(
    saved: Sequence[str] = (),
    rejected: Iterable[str] = (),
    report: object | None = None,
    error: str | None = None,
) -> str:
    """What an upload did: files added and indexed, files skipped or rejected and why.

    `report` is read leniently (`added`, `updated`, `unchanged` chunks, `articles`,
    `skipped`), so any index report with those attributes can be shown.
    """
    items: list[str] = []
    if saved:
        names = ", ".join(escape_html(name) for name in saved)
        items.append(f'<li class="nd-ok">✓ Added to the corpus: {names}</li>')
    if report is not None:
        added = int(getattr(report, "added", 0))
        updated = int(getattr(report, "updated", 0))
        total = getattr(report, "articles", None)
        if added or updated:
            summary = f"Indexed {_plural(added, 'new chunk')}"
            summary += f" and {updated} updated" if updated else ""
        else:
            summary = "Nothing new to index: this text is already in the index"
        if total is not None:
            summary += f"; the index now holds {_plural(int(total), 'article')}"
        items.append(f'<li class="nd-ok">{escape_html(summary)}.</li>')
        uploaded = {Path(name).name for name in saved}
        for skipped in getattr(report, "skipped", None) or ():
            path = str(getattr(skipped, "path", skipped))
            if uploaded and Path(path).name not in uploaded:
                continue
            reason = escape_html(str(getattr(skipped, "reason", "")))
            items.append(f'<li class="nd-skip">Skipped {escape_html(path)}: {reason}</li>')
    for message in rejected:
        items.append(f'<li class="nd-reject">Rejected: {escape_html(message)}</li>')
    if error:
        items.append(f'<li class="nd-reject">⚠ {_with_code(error)}</li>')
    if not items:
        items.append("<li>Choose .txt, .md or .html files to add them to the corpus.</li>")
    return f'<ul class="nd-upload-report">{"".join(items)}</ul>'
