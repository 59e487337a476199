"""Answers written by a local Ollama model, through llama-index's `Ollama` LLM.

`OllamaGenerator` satisfies `rag.protocols.Generator`: `preflight()` checks that the server
answers and the model is pulled, `stream()` yields the reply as it is written. Every failure
becomes an `OllamaError` subclass whose message says what to do.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rag.errors import (
    ConfigError,
    OllamaError,
    OllamaModelMissingError,
    OllamaResponseError,
    OllamaTimeoutError,
    OllamaUnavailableError,
)
from rag.protocols import ChatMessage

if TYPE_CHECKING:
    import ollama
    from llama_index.llms.ollama import Ollama

    from rag.settings import Settings

DEFAULT_CONTEXT_WINDOW = 4096  # tokens: instructions + 6 passages of ~200 tokens + answer
DEFAULT_MAX_TOKENS = 400  # 1-4 short sentences fit easily; stops a rambling model
DEFAULT_TEMPERATURE = 0.1
PREFLIGHT_TTL = 30.0  # seconds a successful preflight is trusted
PREFLIGHT_TIMEOUT = 5.0  # seconds; listing models is quick when the server is up
DEADLINE_FACTOR = 4.0  # a whole answer may take this many request timeouts
ROLES = ("system", "user", "assistant")


def _clean_detail(text: object, limit: int = 200) -> str:
    """One line of server-supplied error text, without file paths, fit for a user."""
    line = " ".join(str(text).split())
    line = re.sub(r"(?:[A-Za-z]:)?[\\/](?:[\w.@-]+[\\/])+[\w.@-]*", "…", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def same_model(wanted: str, pulled: str) -> bool:
    """True when `pulled` (from `/api/tags`) is `wanted`, with `:latest` implied on either."""

    def norm(name: str) -> str:
        name = name.strip().lower()
        return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"

    return norm(wanted) == norm(pulled)


class OllamaGenerator:
    """Streams chat replies from one model on one Ollama server.

    The llama-index `Ollama` LLM is built here and held by the generator; nothing global
    (such as `llama_index.core.Settings`) is read or changed.
    """

    def __init__(
        self,
        host: str,
        model: str,
        timeout: float,
        *,
        context_window: int = DEFAULT_CONTEXT_WINDOW,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
        deadline: float | None = None,
    ) -> None:
        """`timeout` bounds each network wait; `deadline` (default: 4 × timeout) bounds a
        whole streamed answer."""
        if not host or not host.strip():
            raise ConfigError("The Ollama host is empty: set OLLAMA_HOST, e.g. 127.0.0.1:11434.")
        if not model or not model.strip():
            raise ConfigError(
                "No Ollama model is configured: set NEWSDESK_OLLAMA_MODEL, e.g. qwen2.5:3b."
            )
        if not timeout > 0:
            raise ConfigError(
                f"The Ollama timeout must be a positive number of seconds, not {timeout!r}: "
                "fix NEWSDESK_REQUEST_TIMEOUT."
            )
        if context_window < 256:
            raise ConfigError(f"The Ollama context window of {context_window} tokens is too small.")
        if max_tokens < 1:
            raise ConfigError("The answer length limit must be at least one token.")
        if deadline is not None and not deadline > 0:
            raise ConfigError(f"The answer deadline must be positive, not {deadline!r}.")
        self.host = host.strip().rstrip("/")
        self.model_name = model.strip()
        self.timeout = float(timeout)
        self.deadline = float(deadline) if deadline is not None else self.timeout * DEADLINE_FACTOR
        self.context_window = context_window
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._lock = threading.Lock()
        self._llm: Ollama | None = None
        self._client: ollama.Client | None = None
        self._preflight_ok_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> OllamaGenerator:
        """A generator for the host, model and timeout of `settings`."""
        return cls(
            host=settings.ollama_host,
            model=settings.ollama_model,
            timeout=settings.request_timeout,
            context_window=int(
                getattr(settings, "ollama_context_window", DEFAULT_CONTEXT_WINDOW)
                or DEFAULT_CONTEXT_WINDOW
            ),
        )

    def __repr__(self) -> str:
        return f"OllamaGenerator(host={self.host!r}, model={self.model_name!r})"

    # ---- clients ---------------------------------------------------------------------
    def _preflight_client(self) -> ollama.Client:
        import ollama

        with self._lock:
            if self._client is None:
                self._client = ollama.Client(
                    host=self.host, timeout=min(self.timeout, PREFLIGHT_TIMEOUT)
                )
            return self._client

    def _get_llm(self) -> Ollama:
        from llama_index.llms.ollama import Ollama

        with self._lock:
            if self._llm is None:
                self._llm = Ollama(
                    model=self.model_name,
                    base_url=self.host,
                    request_timeout=self.timeout,
                    temperature=self.temperature,
                    # Given explicitly so that no /api/show is made to look it up.
                    context_window=self.context_window,
                    additional_kwargs={"num_predict": self.max_tokens},
                    is_function_calling_model=False,
                )
            return self._llm

    def close(self) -> None:
        """Close the HTTP connections held by the generator."""
        with self._lock:
            clients = [self._client, self._llm.client if self._llm is not None else None]
            self._client, self._llm = None, None
        for client in clients:
            if client is not None:
                client.close()

    # ---- preflight -------------------------------------------------------------------
    def preflight(self) -> None:
        """Raise an `OllamaError` unless the server answers and the model is pulled.

        A success is remembered for `PREFLIGHT_TTL` seconds, so asking many questions does
        not list the models every time.
        """
        if time.monotonic() < self._preflight_ok_until:
            return
        client = self._preflight_client()
        try:
            pulled = [m.model or "" for m in client.list().models]
            if not any(same_model(self.model_name, name) for name in pulled):
                # Not listed under that name (an alias, say): ask about the model itself.
                client.show(self.model_name)
        except Exception as error:
            raise self._map_error(error, preflight=True) from None
        self._preflight_ok_until = time.monotonic() + PREFLIGHT_TTL

    def forget_preflight(self) -> None:
        """Make the next `preflight()` check the server again."""
        self._preflight_ok_until = 0.0

    # ---- generation ------------------------------------------------------------------
    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        """Yield the reply in pieces as the model writes it.

        Raises `OllamaUnavailableError`, `OllamaModelMissingError`, `OllamaTimeoutError` or
        `OllamaResponseError`; a reply that stops before Ollama marks it done is an error,
        never a silently shortened answer.
        """
        chat = to_llama_messages(messages)
        return self._stream(chat)

    def _stream(self, chat: list[Any]) -> Iterator[str]:
        started = time.monotonic()
        try:
            llm = self._get_llm()
            responses = llm.stream_chat(chat)
            finished = False
            try:
                for response in responses:
                    if finished:
                        continue
                    raw = response.raw if isinstance(response.raw, dict) else {}
                    if response.delta:
                        yield response.delta
                    if raw.get("done"):
                        finished = True
                    elif time.monotonic() - started > self.deadline:
                        raise OllamaTimeoutError(self.host, self.deadline)
            finally:
                close = getattr(responses, "close", None)
                if close is not None:
                    close()
            if not finished:
                raise OllamaResponseError(
                    f"Ollama at {self.host} stopped before the answer was complete: "
                    "try again, and check the Ollama server log if it keeps happening."
                )
        except OllamaError as error:
            if isinstance(error, (OllamaUnavailableError, OllamaModelMissingError)):
                self.forget_preflight()
            raise
        except Exception as error:
            mapped = self._map_error(error)
            if isinstance(mapped, (OllamaUnavailableError, OllamaModelMissingError)):
                self.forget_preflight()
            raise mapped from None

    def complete(self, messages: Sequence[ChatMessage]) -> str:
        """The whole reply as one string."""
        return "".join(self.stream(messages))

    # ---- errors ----------------------------------------------------------------------
    def _map_error(self, error: BaseException, *, preflight: bool = False) -> OllamaError:
        """Translate client, HTTP and parsing failures into the `OllamaError` family."""
        import httpx
        import ollama

        if isinstance(error, OllamaError):
            return error
        if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, ConnectionRefusedError)):
            return OllamaUnavailableError(self.host)
        if isinstance(error, httpx.TimeoutException):
            return OllamaTimeoutError(self.host, self.timeout)
        if isinstance(error, ollama.ResponseError):
            status = error.status_code
            detail = _clean_detail(error.error)
            if status == 404 and preflight and "model" not in detail.lower():
                # Something answers on that port, but it is not Ollama.
                return OllamaUnavailableError(self.host)
            if status == 404 or (status == -1 and "not found" in detail.lower()):
                return OllamaModelMissingError(self.model_name)
            where = f"HTTP {status}" if status > 0 else "mid-answer"
            return OllamaResponseError(
                f"Ollama at {self.host} reported an error ({where}): {detail}. "
                "Try again; if it persists, check the Ollama server log."
            )
        if isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            return OllamaResponseError(
                f"Ollama at {self.host} closed the connection before the answer was "
                "complete: try again, and check the Ollama server log if it keeps happening."
            )
        if isinstance(error, ConnectionError):
            # The ollama client turns refused connections into the builtin ConnectionError.
            return OllamaUnavailableError(self.host)
        if isinstance(error, (ValueError, KeyError, TypeError, httpx.DecodingError)):
            return OllamaResponseError(
                f"Ollama at {self.host} sent a reply Newsdesk cannot read: check that "
                "OLLAMA_HOST points at an Ollama server and that it is up to date."
            )
        if isinstance(error, httpx.HTTPError):
            return OllamaResponseError(
                f"The request to Ollama at {self.host} failed ({type(error).__name__}): try again."
            )
        return OllamaResponseError(
            f"Ollama at {self.host} failed unexpectedly ({type(error).__name__}): try again."
        )


def to_llama_messages(messages: Sequence[ChatMessage]) -> list[Any]:
    """Turn `{"role", "content"}` dicts into llama-index `ChatMessage` objects."""
    from llama_index.core.llms import ChatMessage as LlamaMessage
    from llama_index.core.llms import MessageRole

    if not messages:
        raise ValueError("at least one chat message is needed")
    converted = []
    for message in messages:
        role = message.get("role", "")
        if role not in ROLES:
            raise ValueError(f"unknown chat role {role!r}; expected one of {ROLES}")
        converted.append(LlamaMessage(role=MessageRole(role), content=message.get("content", "")))
    return converted
