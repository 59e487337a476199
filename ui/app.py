"""The Newsdesk chat UI (Gradio): chat with cited answers, sources panel, corpus upload.

`build_app(newsdesk, settings)` returns the Blocks; `launch(settings)` builds the real
`Newsdesk` and serves it on `settings.host:settings.port`. Conversation state lives in
per-session `gr.State`, so readers never see each other's questions.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.errors import ConfigError, CorpusError, NewsdeskError, QuestionError
from rag.settings import Settings
from rag.types import Answer, TextDelta
from ui.render import (
    render_answer_markdown,
    render_error_markdown,
    render_partial_markdown,
    render_sources_html,
    render_status_html,
    render_upload_report,
)
from ui.upload import ALLOWED_EXTENSIONS, save_upload

if TYPE_CHECKING:
    import gradio as gr

    from rag.api import IndexedArticle, Status

log = logging.getLogger(__name__)

EXAMPLE_QUESTIONS = (
    "When did Xi and Putin last meet?",
    "Why did Putin invite Xi to Moscow?",
    "When will Xi visit Russia?",
)
ANSWER_CONCURRENCY = 2
UNEXPECTED = (
    "Newsdesk could not answer this question because of an internal error; "
    "the details are in the server log."
)

Messages = list[dict[str, str]]


class NewsdeskLike(Protocol):
    """What the UI needs from `rag.api.Newsdesk`."""

    def stream(
        self, question: str, history: Sequence[dict[str, str]] | None = None
    ) -> Iterator[TextDelta | Answer]: ...

    def status(self) -> Status: ...

    def articles(self) -> list[IndexedArticle]: ...

    def article_text(self, doc_id: str) -> str: ...

    def add_files(self, paths: Sequence[Path]) -> object: ...


CSS = """
#nd-status .nd-status { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; font-size: .9rem;
  padding: .4rem .6rem; border-radius: 6px; background: var(--block-background-fill); }
.nd-mode { font-weight: 600; }
.nd-mode-extractive { color: #9a5b00; }
.nd-status-error { color: #b00020; }
.nd-cite-sup { font-size: .72em; line-height: 0; }
a.nd-cite { text-decoration: none; font-weight: 600; padding: 0 .1em; cursor: pointer; }
.nd-notes { font-size: .82rem; opacity: .8; margin-top: .4rem; }
.nd-notes ul { margin: 0; padding-left: 1.1rem; }
.nd-error { color: #b00020; }
.nd-unanswered { font-style: italic; }
#nd-sources { max-height: 640px; overflow-y: auto; }
.nd-sources ol, .nd-sources ul { padding-left: 0; list-style: none; margin: 0; }
.nd-source, .nd-retrieved { border-left: 3px solid #3b82f6; padding: .3rem .6rem;
  margin-bottom: .8rem; border-radius: 3px; scroll-margin: 1rem; }
.nd-source.nd-unsupported { border-left-color: #d97706; }
.nd-source-head { display: flex; flex-wrap: wrap; gap: .2rem .5rem; align-items: baseline; }
.nd-n { font-weight: 700; }
.nd-title { font-weight: 600; }
.nd-meta { font-size: .85rem; opacity: .8; }
.nd-passage { margin: .3rem 0; font-size: .9rem; white-space: pre-wrap; }
.nd-passage mark, .nd-article-text mark { background: #fde68a; color: inherit; padding: 0 .1em; }
.nd-warning { color: #b45309; font-size: .85rem; margin: .2rem 0; }
.nd-article-text { white-space: pre-wrap; font-size: .85rem; max-height: 320px;
  overflow-y: auto; }
.nd-flash { animation: nd-flash 1.6s ease-out; }
@keyframes nd-flash { from { background: #fde68a; } to { background: transparent; } }
.nd-upload-report { list-style: none; padding-left: 0; }
.nd-reject { color: #b00020; }
.nd-skip { color: #9a5b00; }
"""

# Clicking a citation marker scrolls the sources panel to its entry. When the entry is not
# shown (an older answer), the click reaches the chatbot, which re-renders that answer's
# sources; the scroll is retried until the entry appears.
HEAD = """
<script>
(() => {
  function reveal(id, tries) {
    const target = document.getElementById(id);
    if (target) {
      target.scrollIntoView({behavior: "smooth", block: "nearest"});
      target.classList.remove("nd-flash");
      void target.offsetWidth;
      target.classList.add("nd-flash");
    } else if (tries > 0) {
      setTimeout(() => reveal(id, tries - 1), 150);
    }
  }
  document.addEventListener("click", (event) => {
    const link = event.target.closest ? event.target.closest("a.nd-cite") : null;
    if (!link) return;
    event.preventDefault();
    const id = (link.getAttribute("href") || "").replace(/^#/, "");
    if (document.getElementById(id)) event.stopPropagation();
    reveal(id, 20);
  }, true);
})();
</script>
"""


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """`"user:password"` -> `("user", "password")`; None when unset."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ConfigError("NEWSDESK_AUTH must look like user:password (both non-empty).")
    return user, password


def _clip(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _answer_anchor(index: int) -> str:
    return f"nd-src-m{index}"


def _article_rows(newsdesk: NewsdeskLike) -> list[list[Any]]:
    try:
        articles = newsdesk.articles()
    except NewsdeskError:
        return []
    return [[a.title, a.source or "", a.published or "", a.chunks] for a in articles]


def _status_html(newsdesk: NewsdeskLike) -> str:
    try:
        return render_status_html(newsdesk.status())
    except NewsdeskError as error:
        return render_status_html(None, str(error))
    except Exception:
        log.exception("status failed")
        return render_status_html(None, "The index status could not be read; see the log.")


def _lookup(newsdesk: NewsdeskLike) -> Any:
    def article_text(doc_id: str) -> str | None:
        try:
            return newsdesk.article_text(doc_id)
        except Exception:
            return None

    return article_text


def final_answer(
    newsdesk: NewsdeskLike, question: str, history: Sequence[dict[str, str]] | None = None
) -> Answer:
    """Run `newsdesk.stream` to the end and return its `Answer`."""
    answer: Answer | None = None
    for event in newsdesk.stream(question, history):
        if isinstance(event, Answer):
            answer = event
    if answer is None:
        raise NewsdeskError("No answer was produced: try asking again.")
    return answer


def check_question(question: str | None, settings: Settings) -> str:
    """The stripped question, or `QuestionError` when it is empty or too long."""
    text = (question or "").strip()
    if not text:
        raise QuestionError("Type a question about the articles first.")
    if len(text) > settings.max_question_chars:
        raise QuestionError(
            f"The question is {len(text)} characters long; the limit is "
            f"{settings.max_question_chars}. Shorten it and ask again."
        )
    return text


def build_app(newsdesk: NewsdeskLike, settings: Settings) -> gr.Blocks:
    """The chat UI for `newsdesk`; per-reader state is held in `gr.State`."""
    import gradio as gr

    lookup = _lookup(newsdesk)

    def respond(
        question: str, chat: Messages, history: Messages, answers: dict[int, Answer]
    ) -> Iterator[tuple[Any, ...]]:
        chat = list(chat or [])
        history = list(history or [])
        answers = dict(answers or {})
        try:
            text = check_question(question, settings)
        except QuestionError as error:
            if (question or "").strip():
                chat += [
                    {"role": "user", "content": render_partial_markdown(_clip(question))},
                    {"role": "assistant", "content": render_error_markdown(str(error))},
                ]
                yield chat, gr.skip(), question, history, answers, gr.skip()
            else:
                gr.Warning(str(error))
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        chat += [
            {"role": "user", "content": render_partial_markdown(text)},
            {"role": "assistant", "content": "…"},
        ]
        index = len(chat) - 1
        yield chat, gr.skip(), "", history, answers, gr.skip()
        partial = ""
        answer: Answer | None = None
        try:
            for event in newsdesk.stream(text, history):
                if isinstance(event, TextDelta):
                    partial += event.text
                    chat[index] = {"role": "assistant", "content": render_partial_markdown(partial)}
                    yield chat, gr.skip(), gr.skip(), history, answers, gr.skip()
                elif isinstance(event, Answer):
                    answer = event
        except NewsdeskError as error:
            chat[index] = {"role": "assistant", "content": render_error_markdown(str(error))}
            restore = text if isinstance(error, QuestionError) else gr.skip()
            yield chat, gr.skip(), restore, history, answers, _status_html(newsdesk)
            return
        except Exception:
            log.exception("answering %r failed", text)
            chat[index] = {"role": "assistant", "content": render_error_markdown(UNEXPECTED)}
            yield chat, gr.skip(), gr.skip(), history, answers, gr.skip()
            return
        if answer is None:
            chat[index] = {
                "role": "assistant",
                "content": render_error_markdown("No answer was produced: try asking again."),
            }
            yield chat, gr.skip(), gr.skip(), history, answers, gr.skip()
            return
        anchor = _answer_anchor(index)
        chat[index] = {"role": "assistant", "content": render_answer_markdown(answer, anchor)}
        history += [
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer.text},
        ]
        answers[index] = answer
        sources = render_sources_html(answer, lookup, anchor)
        yield chat, sources, gr.skip(), history, answers, _status_html(newsdesk)

    def ask_example(question: str) -> Any:
        def run_example(
            chat: Messages, history: Messages, answers: dict[int, Answer]
        ) -> Iterator[tuple[Any, ...]]:
            yield from respond(question, chat, history, answers)

        return run_example

    def new_chat() -> tuple[Any, ...]:
        return [], render_sources_html(None, None), "", [], {}

    def show_sources(answers: dict[int, Answer], event: gr.SelectData) -> Any:
        index = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        answer = (answers or {}).get(index) if isinstance(index, int) else None
        if answer is None:
            return gr.skip()
        return render_sources_html(answer, lookup, _answer_anchor(index))

    # Gradio finds the event-data parameter by its annotation, which `from __future__ import
    # annotations` turns into a string; give it the class itself.
    show_sources.__annotations__["event"] = gr.SelectData

    def add_uploads(files: list[str] | None) -> tuple[Any, ...]:
        rejected: list[str] = []
        report: object | None = None
        error_text: str | None = None
        # Checked copies are staged under their final (free) names; `add_files` copies them
        # into the corpus folder and indexes them.
        with tempfile.TemporaryDirectory(prefix="newsdesk-upload-") as staging:
            staged: list[Path] = []
            for name in files or []:
                src = Path(name)
                try:
                    staged.append(
                        save_upload(
                            src,
                            Path(staging),
                            src.name,
                            max_bytes=settings.max_upload_bytes,
                            avoid=settings.corpus,
                        )
                    )
                except CorpusError as error:
                    rejected.append(str(error))
            if staged:
                try:
                    report = newsdesk.add_files(staged)
                except NewsdeskError as error:
                    error_text = str(error)
                except Exception:
                    log.exception("indexing uploads failed")
                    error_text = "The files could not be indexed; see the log."
        saved = [path.name for path in staged]
        message = render_upload_report(saved, rejected, report, error_text)
        return message, _article_rows(newsdesk), _status_html(newsdesk), None

    def api_ask(question: str) -> dict[str, Any]:
        """Answer one question; returns the answer's JSON (text, citations, notes...)."""
        try:
            text = check_question(question, settings)
            return final_answer(newsdesk, text).to_dict()
        except NewsdeskError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception:
            log.exception("/ask failed for %r", question)
            raise gr.Error(UNEXPECTED, print_exception=False) from None

    def refresh() -> tuple[str, list[list[Any]]]:
        return _status_html(newsdesk), _article_rows(newsdesk)

    private: Any = "private"
    with gr.Blocks(title="Newsdesk", analytics_enabled=False, fill_width=True) as app:
        history = gr.State([])
        answers = gr.State({})
        gr.Markdown("## Newsdesk\nAsk about the news articles; every claim cites its source.")
        status = gr.HTML(render_status_html(None, "Loading…"), elem_id="nd-status")
        with gr.Tabs():
            with (
                gr.Tab("Chat", id="chat", elem_id="nd-chat-tab"),
                gr.Row(equal_height=False),
            ):
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        elem_id="nd-chat",
                        label="Newsdesk",
                        height=520,
                        latex_delimiters=[],
                        feedback_options=None,
                        buttons=["copy", "copy_all"],
                        placeholder="Ask a question about the indexed articles.",
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            elem_id="nd-question",
                            show_label=False,
                            placeholder="e.g. When did Xi and Putin last meet?",
                            scale=5,
                            autofocus=True,
                        )
                        ask_btn = gr.Button("Ask", variant="primary", elem_id="nd-ask", scale=1)
                        new_btn = gr.Button("New chat", elem_id="nd-new-chat", scale=1)
                    with gr.Row(elem_id="nd-examples"):
                        example_btns = [
                            (q, gr.Button(q, size="sm", elem_id=f"nd-example-{i}"))
                            for i, q in enumerate(EXAMPLE_QUESTIONS)
                        ]
                with gr.Column(scale=2):
                    sources = gr.HTML(
                        render_sources_html(None, None),
                        elem_id="nd-sources",
                        label="Sources",
                    )
            with gr.Tab("Corpus", id="corpus", elem_id="nd-corpus-tab"):
                table = gr.Dataframe(
                    headers=["Title", "Outlet", "Date", "Chunks"],
                    datatype=["str", "str", "str", "number"],
                    interactive=False,
                    elem_id="nd-articles",
                    wrap=True,
                )
                files = gr.File(
                    label="Add articles (.txt, .md, .html)",
                    file_count="multiple",
                    file_types=list(ALLOWED_EXTENSIONS),
                    elem_id="nd-upload",
                )
                upload_report = gr.HTML(render_upload_report(), elem_id="nd-upload-report")

        answer_io: dict[str, Any] = {
            "outputs": [chatbot, sources, question, history, answers, status],
            "concurrency_limit": ANSWER_CONCURRENCY,
            "concurrency_id": "answer",
            "api_visibility": private,
        }
        ask_btn.click(respond, inputs=[question, chatbot, history, answers], **answer_io)
        question.submit(respond, inputs=[question, chatbot, history, answers], **answer_io)
        for text, button in example_btns:
            button.click(ask_example(text), inputs=[chatbot, history, answers], **answer_io)
        new_btn.click(
            new_chat,
            outputs=[chatbot, sources, question, history, answers],
            api_visibility=private,
        )
        chatbot.clear(
            new_chat,
            outputs=[chatbot, sources, question, history, answers],
            api_visibility=private,
        )
        chatbot.select(show_sources, inputs=[answers], outputs=[sources], api_visibility=private)
        files.upload(
            add_uploads,
            inputs=[files],
            outputs=[upload_report, table, status, files],
            concurrency_limit=1,
            api_visibility=private,
        )
        app.load(refresh, outputs=[status, table], api_visibility=private)
        gr.api(
            api_ask,
            api_name="ask",
            concurrency_limit=ANSWER_CONCURRENCY,
            concurrency_id="answer",
        )
    return app


def _theme() -> Any:
    import gradio as gr

    # System fonts: the page must not fetch anything from outside the machine.
    return gr.themes.Default(
        font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"],
    )


def serve(
    app: gr.Blocks,
    settings: Settings,
    *,
    port: int | None = None,
    block: bool = True,
    quiet: bool = False,
    open_browser: bool = False,
) -> str:
    """Serve `app` on `settings.host` (loopback by default), never through a share link.

    Returns the local URL; with `block=False` the server runs in the background until
    `app.close()`.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    chosen = settings.port if port is None else port
    auth = parse_auth(settings.auth)
    if auth is None and not _is_loopback(settings.host):
        log.warning(
            "The chat UI listens on %s without NEWSDESK_AUTH: anyone who can reach it can ask "
            "questions and upload articles.",
            settings.host,
        )
    try:
        _, url, _ = app.queue(default_concurrency_limit=1).launch(
            server_name=settings.host,
            server_port=chosen or None,
            share=False,
            auth=auth,
            auth_message="Newsdesk: sign in with the user and password set in NEWSDESK_AUTH.",
            max_file_size=settings.max_upload_bytes,
            prevent_thread_lock=not block,
            quiet=quiet,
            inbrowser=open_browser,
            ssr_mode=False,
            mcp_server=False,
            show_error=False,
            theme=_theme(),
            css=CSS,
            head=HEAD,
            footer_links=["api"],
        )
    except OSError as error:
        raise ConfigError(
            f"The chat UI cannot listen on {settings.host}:{chosen} ({error}): "
            "choose another port with --port or NEWSDESK_PORT."
        ) from error
    return str(url)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def launch(settings: Settings, *, open_browser: bool = False) -> None:
    """Build the real `Newsdesk` for `settings` and serve the chat UI until interrupted."""
    from rag.api import Newsdesk

    newsdesk = Newsdesk.from_settings(settings)
    app = build_app(newsdesk, settings)
    serve(app, settings, open_browser=open_browser)
