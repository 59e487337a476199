"""A fake Ollama server over real HTTP on 127.0.0.1, scriptable per test.

It answers the endpoints the `ollama` client and llama-index's `Ollama` LLM use
(`/api/version`, `/api/tags`, `/api/show`, `/api/chat` streaming and not), records every
request, and can misbehave on purpose (`fault`).

Use the `fake_ollama` fixture (register it with
`pytest_plugins = ["tests.fake_ollama"]` or import it into a conftest):

    def test_x(fake_ollama):
        fake_ollama.reply = "Xi visited Moscow [1]."
        gen = OllamaGenerator(host=fake_ollama.url, model="qwen2.5:3b", timeout=5)
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest

Fault = Literal[
    "http500",  # /api/chat answers 500 with an Ollama-style {"error": ...} body
    "cut",  # the stream stops mid-answer: the connection is dropped without a final chunk
    "no_done",  # the stream ends cleanly but never sends the done=true line
    "malformed",  # a line of the stream is not JSON
    "error_line",  # the stream carries {"error": ...} mid-answer, as Ollama does on failure
]

Reply = str | Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Recorded:
    """One request the fake server received."""

    method: str
    path: str
    body: dict[str, Any] | None


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def split_reply(text: str, size: int) -> list[str]:
    """Cut `text` into pieces of about `size` words, keeping every character."""
    words = text.split(" ")
    pieces = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    return [p + (" " if i < len(pieces) - 1 else "") for i, p in enumerate(pieces)]


@dataclass
class FakeOllama:
    """State and script of one fake server; attributes may be changed during a test."""

    models: list[str] = field(default_factory=lambda: ["qwen2.5:3b", "llama3.2:latest"])
    reply: Reply = "Xi Jinping will visit Moscow in the spring [1]."
    words_per_chunk: int = 2
    fault: Fault | None = None
    fault_after_chunks: int = 2  # for cut / malformed / error_line
    delay: float = 0.0  # seconds before /api/chat answers at all
    chunk_delay: float = 0.0  # seconds between streamed lines
    error_message: str = "llama runner process has terminated: exit status 2"  # for http500
    context_length: int = 32768
    architecture: str = "qwen2"
    version: str = "0.6.5"
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> FakeOllama:
        """Listen on a free loopback port and serve in a background thread."""
        fake = self

        class Handler(_Handler):
            server_state = fake

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; handlers that are sleeping wake up and give up at once."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- inspection ------------------------------------------------------------------
    def record(self, method: str, path: str, body: dict[str, Any] | None) -> None:
        """Remember one request (thread-safe)."""
        with self._lock:
            self.requests.append(Recorded(method, path, body))

    def paths(self) -> list[str]:
        """Paths of every request, in arrival order."""
        with self._lock:
            return [r.path for r in self.requests]

    def chat_requests(self) -> list[dict[str, Any]]:
        """JSON bodies of every `/api/chat` request."""
        with self._lock:
            return [r.body or {} for r in self.requests if r.path == "/api/chat"]

    def last_chat(self) -> dict[str, Any]:
        """JSON body of the latest `/api/chat` request."""
        chats = self.chat_requests()
        assert chats, "no /api/chat request was received"
        return chats[-1]

    def sent_text(self) -> str:
        """All message contents of the latest chat request, joined."""
        return "\n".join(m.get("content", "") for m in self.last_chat().get("messages", []))

    # ---- behaviour -------------------------------------------------------------------
    def has_model(self, name: str) -> bool:
        """True when `name` is pulled, treating `x` and `x:latest` as the same model."""

        def norm(n: str) -> str:
            return n if ":" in n else f"{n}:latest"

        return norm(name) in {norm(m) for m in self.models}

    def reply_for(self, body: dict[str, Any]) -> str:
        """The scripted reply text for one chat request."""
        return self.reply(body) if callable(self.reply) else self.reply

    def sleep(self, seconds: float) -> bool:
        """Wait `seconds`; False when the server is shutting down meanwhile."""
        return not self._stopping.wait(seconds) if seconds > 0 else True


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up make writes fail; that is what some tests want.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections release their thread
    server_state: FakeOllama

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ---- plumbing --------------------------------------------------------------------
    def _body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        raw = self.rfile.read(length)
        try:
            data = json.loads(raw)
        except ValueError:
            return {"_raw": raw.decode("utf-8", "replace")}
        return data if isinstance(data, dict) else {"_raw": data}

    def _send_json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _drop_connection(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # ---- routes ----------------------------------------------------------------------
    def do_GET(self) -> None:
        state = self.server_state
        state.record("GET", self.path, None)
        if self.path == "/api/version":
            self._send_json(200, {"version": state.version})
        elif self.path == "/api/tags":
            self._send_json(200, {"models": [_tag(m) for m in state.models]})
        elif self.path == "/":
            body = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self._send_json(404, {"error": "not found"})

    def do_POST(self) -> None:
        state = self.server_state
        body = self._body()
        state.record("POST", self.path, body)
        if self.path == "/api/show":
            self._show(body or {})
        elif self.path == "/api/chat":
            self._chat(body or {})
        else:
            self._send_json(404, {"error": "not found"})

    def _show(self, body: dict[str, Any]) -> None:
        state = self.server_state
        name = str(body.get("model") or body.get("name") or "")
        if not state.has_model(name):
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        arch = state.architecture
        self._send_json(
            200,
            {
                "modelfile": f"FROM {name}\n",
                "parameters": "stop <|im_end|>",
                "template": "{{ .Prompt }}",
                "details": _details(),
                "model_info": {
                    "general.architecture": arch,
                    "general.parameter_count": 3_085_938_688,
                    f"{arch}.context_length": state.context_length,
                    f"{arch}.embedding_length": 2048,
                },
                "capabilities": ["completion", "tools"],
                "modified_at": _now(),
            },
        )

    def _chat(self, body: dict[str, Any]) -> None:
        state = self.server_state
        if not state.sleep(state.delay):
            return
        model = str(body.get("model") or "")
        if not state.has_model(model):
            self._send_json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        if state.fault == "http500":
            self._send_json(500, {"error": state.error_message})
            return
        text = state.reply_for(body)
        if body.get("stream", True) is False:
            self._send_json(200, _final(model, text))
            return
        self._stream(model, text)

    def _stream(self, model: str, text: str) -> None:
        state = self.server_state
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for sent, piece in enumerate(_lines(model, text, state.words_per_chunk)):
            if sent == state.fault_after_chunks:
                if state.fault == "cut":
                    self._drop_connection()
                    return
                if state.fault == "malformed":
                    self._chunk(b'{"model": "' + model.encode() + b'", "message": {"con\n')
                if state.fault == "error_line":
                    self._chunk(b'{"error": "an error was encountered while running the model"}\n')
            if piece.get("done") and state.fault == "no_done":
                break
            self._chunk(json.dumps(piece).encode() + b"\n")
            if not state.sleep(state.chunk_delay):
                self._drop_connection()
                return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _details() -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "qwen2",
        "families": ["qwen2"],
        "parameter_size": "3.1B",
        "quantization_level": "Q4_K_M",
    }


def _tag(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": _now(),
        "size": 1_929_912_432,
        "digest": "357c53fb659c5076de1d65ccb0b397446227b71a42be9d1603d46168015c9e4b",
        "details": _details(),
    }


def _counters(text: str) -> dict[str, Any]:
    return {
        "total_duration": 1_200_000_000,
        "load_duration": 50_000_000,
        "prompt_eval_count": 420,
        "prompt_eval_duration": 300_000_000,
        "eval_count": max(1, len(text.split())),
        "eval_duration": 800_000_000,
    }


def _final(model: str, text: str) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": _now(),
        "message": {"role": "assistant", "content": text},
        "done": True,
        "done_reason": "stop",
        **_counters(text),
    }


def _lines(model: str, text: str, size: int) -> Iterator[dict[str, Any]]:
    for piece in split_reply(text, size):
        yield {
            "model": model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": piece},
            "done": False,
        }
    yield {
        "model": model,
        "created_at": _now(),
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        **_counters(text),
    }


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    """A running fake Ollama server; stopped after the test."""
    server = FakeOllama().start()
    try:
        yield server
    finally:
        server.stop()


def newsdesk_on(fake: FakeOllama, base: Any, llm: str = "auto", timeout: float = 5.0) -> Any:
    """A Newsdesk over `base`'s index whose generator talks to `fake`, wired as in a
    deployment (real OllamaGenerator, real `ollama` client, HTTP on loopback)."""
    from rag.api import Newsdesk
    from rag.ollama_gen import OllamaGenerator
    from rag.pipeline import Pipeline
    from rag.retrieve import HybridRetriever

    pipeline = base.pipeline
    settings = pipeline.settings.model_copy(
        update={"ollama_host": fake.url, "llm": llm, "request_timeout": timeout}
    )
    wired = Pipeline(
        settings=settings,
        store=pipeline.store,
        embedder=pipeline.embedder,
        retriever=HybridRetriever(pipeline.store, pipeline.embedder),
        generator=OllamaGenerator.from_settings(settings),
    )
    return Newsdesk(wired, settings)
