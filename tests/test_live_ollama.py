"""One real question to a real Ollama: run with NEWSDESK_LIVE_OLLAMA=1 and OLLAMA_HOST set.

NEWSDESK_LIVE_OLLAMA=1 OLLAMA_HOST=127.0.0.1:11434 pytest -m live tests/test_live_ollama.py
"""

from __future__ import annotations

import os
import re

import pytest

from rag.errors import OllamaUnavailableError
from rag.ollama_gen import OllamaGenerator
from rag.prompt import build_answer_messages
from rag.settings import load_settings
from rag.types import Passage

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        os.environ.get("NEWSDESK_LIVE_OLLAMA") != "1" or not os.environ.get("OLLAMA_HOST"),
        reason="set NEWSDESK_LIVE_OLLAMA=1 and OLLAMA_HOST to talk to a real Ollama",
    ),
]

# Made up, so that a correct answer can only come from the passages.
PASSAGES = [
    Passage(
        chunk_id="live-1",
        doc_id="live-a",
        title="Harbour festival moves",
        source="Tidewater Gazette",
        published="2031-05-02",
        text="The Lantern Harbour festival will take place on 14 June in Port Mirelle, "
        "the organisers announced on Friday.",
        start=0,
        end=100,
        score=0.9,
    ),
    Passage(
        chunk_id="live-2",
        doc_id="live-b",
        title="Festival crowds expected",
        source="Coastal Courier",
        published="2031-05-04",
        text="Organisers expect 20,000 visitors at the Lantern Harbour festival in Port Mirelle.",
        start=0,
        end=90,
        score=0.8,
    ),
]


def test_real_ollama_streams_a_cited_answer() -> None:
    generator = OllamaGenerator.from_settings(load_settings())
    try:
        generator.preflight()
    except OllamaUnavailableError as error:
        pytest.skip(str(error))
    messages = build_answer_messages(
        "Where will the Lantern Harbour festival take place?", PASSAGES, today="2031-05-04"
    )
    deltas = list(generator.stream(messages))
    reply = "".join(deltas).strip()
    assert reply
    assert re.search(r"\[[12]\]", reply), reply
    generator.close()
