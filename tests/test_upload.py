"""Unit tests of ui.upload: only plain, supported file names land in the target folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.errors import CorpusError, NewsdeskError
from ui.upload import save_upload, validate_upload

MAX = 1000


@pytest.mark.parametrize(
    "name", ["article.txt", "notes.md", "page.html", "Putin: Xi visit.TXT", "ü é.md"]
)
def test_plain_supported_names_are_accepted(name: str) -> None:
    assert validate_upload(name, 10, max_bytes=MAX) == name


def test_surrounding_blanks_are_dropped() -> None:
    assert validate_upload("  article.txt ", 10, max_bytes=MAX) == "article.txt"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../../x.txt", "path"),
        ("/etc/cron.d/x.txt", "path"),
        ("a/b.md", "path"),
        ("..\\..\\x.txt", "path"),
        ("C:\\corpus\\x.txt", "path"),
        (".hidden.txt", "hidden"),
        ("..", "hidden"),
        (".txt", "hidden"),
        ("", "no name"),
        ("   ", "no name"),
        ("x.exe", "not a supported"),
        ("x.txt.exe", "not a supported"),
        ("x.htm", "not a supported"),
        ("README", "not a supported"),
        ("x\x00.txt", "control"),
        ("x\n.txt", "control"),
        ("a" * 300 + ".txt", "too long"),
    ],
)
def test_bad_names_are_rejected_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(CorpusError, match=reason):
        validate_upload(name, 10, max_bytes=MAX)


def test_empty_and_oversized_files_are_rejected() -> None:
    with pytest.raises(CorpusError, match="empty"):
        validate_upload("a.txt", 0, max_bytes=MAX)
    with pytest.raises(CorpusError, match="more than the 1 kB allowed"):
        validate_upload("a.txt", MAX + 1, max_bytes=MAX)
    assert validate_upload("a.txt", MAX, max_bytes=MAX) == "a.txt"


def test_errors_are_newsdesk_errors() -> None:
    with pytest.raises(NewsdeskError):
        validate_upload("../x.txt", 1, max_bytes=MAX)


@given(st.text(max_size=40), st.sampled_from([".txt", ".md", ".html", ""]))
def test_accepted_names_stay_inside_the_folder(stem: str, suffix: str) -> None:
    folder = Path("/srv/corpus")
    try:
        name = validate_upload(stem + suffix, 1, max_bytes=MAX)
    except CorpusError:
        return
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert (folder / name).parent == folder
    assert Path(name).suffix.lower() in (".txt", ".md", ".html")


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    src = tmp_path / "incoming" / name
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(data)
    return src


def test_save_copies_and_never_overwrites(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("old")
    src = _file(tmp_path, "a.txt", b"new text")
    saved = save_upload(src, corpus, "a.txt", max_bytes=MAX)
    assert saved == corpus.resolve() / "a-2.txt"
    assert saved.read_bytes() == b"new text"
    assert (corpus / "a.txt").read_text() == "old"
    assert save_upload(src, corpus, "a.txt", max_bytes=MAX).name == "a-3.txt"


def test_save_avoids_names_taken_in_the_corpus(tmp_path: Path) -> None:
    corpus, staging = tmp_path / "corpus", tmp_path / "staging"
    corpus.mkdir()
    staging.mkdir()
    (corpus / "a.md").write_text("old")
    src = _file(tmp_path, "a.md", b"# new")
    saved = save_upload(src, staging, "a.md", max_bytes=MAX, avoid=corpus)
    assert saved == staging.resolve() / "a-2.md"
    assert not (staging / "a.md").exists()


def test_save_validates_name_and_real_size(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    src = _file(tmp_path, "big.txt", b"x" * (MAX + 1))
    with pytest.raises(CorpusError, match="more than"):
        save_upload(src, corpus, "big.txt", max_bytes=MAX)
    small = _file(tmp_path, "ok.txt", b"x")
    with pytest.raises(CorpusError, match="path"):
        save_upload(small, corpus, "../escape.txt", max_bytes=MAX)
    assert list(corpus.iterdir()) == []
    assert not (tmp_path / "escape.txt").exists()


def test_save_needs_an_existing_folder(tmp_path: Path) -> None:
    src = _file(tmp_path, "ok.txt", b"x")
    with pytest.raises(CorpusError, match="does not exist"):
        save_upload(src, tmp_path / "missing", "ok.txt", max_bytes=MAX)
