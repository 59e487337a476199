"""Shared fixtures and the guard that keeps every test on this machine."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from tests.fake_ollama import fake_ollama  # noqa: F401  (fixture: a fake Ollama on 127.0.0.1)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
DATA = Path(__file__).resolve().parent / "data"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_create_connection = socket.create_connection


def _is_loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


class NonLoopbackConnection(AssertionError):
    """A test tried to reach beyond 127.0.0.0/8 or ::1."""


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise NonLoopbackConnection(f"test opened a non-loopback connection to {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NonLoopbackConnection(f"test opened a non-loopback connection to {address!r}")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a connection to anything but loopback."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture
def seeds_dir() -> Path:
    """The five real seed articles."""
    return SEEDS


@pytest.fixture(scope="session")
def seeded_settings(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Settings of a real index of the five seeds (real MiniLM, embedded Chroma), built once."""
    from index.indexer import index_corpus
    from rag.settings import Settings

    data_dir = tmp_path_factory.mktemp("seeded")
    settings = Settings(
        corpus=SEEDS, data_dir=data_dir, llm="extractive", ollama_host="127.0.0.1:9"
    )
    index_corpus(settings)
    return settings


@pytest.fixture(scope="session")
def seeded_newsdesk(seeded_settings):  # type: ignore[no-untyped-def]
    """A real Newsdesk (extractive) over the seeds, shared by the tests of a session."""
    from rag.api import Newsdesk

    return Newsdesk.from_settings(seeded_settings)
