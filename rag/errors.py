"""The one error hierarchy of Newsdesk.

Every message says what happened and what to do. Entry points (CLI, UI) turn these into
user text; everything below them raises.
"""

from __future__ import annotations


class NewsdeskError(Exception):
    """Base class: `str(error)` is a message fit to show a user."""


class ConfigError(NewsdeskError):
    """A setting has a value Newsdesk cannot use."""


class CorpusError(NewsdeskError):
    """The corpus folder is missing or unusable."""


class IndexMissingError(NewsdeskError):
    """There is no index yet, or it holds no articles."""

    def __init__(self, where: str = "the data directory") -> None:
        super().__init__(f"No articles are indexed in {where}: run `newsdesk index` first.")


class IndexBusyError(NewsdeskError):
    """Another process is writing to the index."""

    def __init__(self) -> None:
        super().__init__(
            "The index is busy: another `newsdesk index` or upload is writing to it. "
            "Try again when it has finished."
        )


class EmbeddingMismatchError(NewsdeskError):
    """The store was built with another embedding model or dimension."""

    def __init__(self, stored: str, wanted: str) -> None:
        super().__init__(
            f"The index was built with the embedding model {stored}, but {wanted} is "
            "configured: run `newsdesk index --rebuild` to re-embed every article."
        )


class EmbeddingModelError(NewsdeskError):
    """The embedding model cannot be found or loaded."""


class StoreUnavailableError(NewsdeskError):
    """The Chroma store (embedded or server) cannot be reached."""


class QuestionError(NewsdeskError):
    """The question is empty, too long or otherwise not askable."""


class OllamaError(NewsdeskError):
    """Ollama failed; subclasses say how."""


class OllamaUnavailableError(OllamaError):
    """The Ollama server does not answer."""

    def __init__(self, host: str) -> None:
        super().__init__(f"Ollama is not running at {host}: start it with `ollama serve`.")


class OllamaModelMissingError(OllamaError):
    """The configured model is not pulled on the server."""

    def __init__(self, model: str) -> None:
        super().__init__(f"Model {model} is not pulled: run `ollama pull {model}`.")


class OllamaTimeoutError(OllamaError):
    """Ollama did not answer within the request timeout."""

    def __init__(self, host: str, seconds: float) -> None:
        super().__init__(
            f"Ollama at {host} did not answer within {seconds:g} s: try again, use a smaller "
            "model, or raise NEWSDESK_REQUEST_TIMEOUT."
        )


class OllamaResponseError(OllamaError):
    """Ollama answered with an error status or a response Newsdesk cannot read."""
