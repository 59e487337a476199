"""Newsdesk: answers about news articles, each claim cited to a dated passage.

    from rag import ask, Newsdesk
    answer = ask("When did Xi and Putin last meet?")

Importing this package loads no model and opens no store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.errors import NewsdeskError
from rag.settings import Settings, load_settings
from rag.types import Answer, Citation, Passage

if TYPE_CHECKING:
    from rag.api import Newsdesk, ask

__all__ = [
    "Answer",
    "Citation",
    "Newsdesk",
    "NewsdeskError",
    "Passage",
    "Settings",
    "ask",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    # The pipeline is imported on first use so that `import rag` stays light.
    if name in ("Newsdesk", "ask"):
        from rag import api

        return getattr(api, name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
