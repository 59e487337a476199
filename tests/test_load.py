"""Reading corpus files: discovery, decoding, HTML extraction and every kind of bad file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import index.load as load
from index.load import (
    RawFile,
    assign_doc_ids,
    decode_text,
    format_bytes,
    iter_corpus_files,
    markdown_to_text,
    read_article_file,
)
from rag.types import Skipped

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "corpus"
BAD = DATA / "bad"

PROSE = "The harbour reopened on Tuesday after the storm.\n\nRepairs will cost 48 million euros.\n"


def read(path: Path, root: Path, max_bytes: int = 10_000_000) -> RawFile:
    result = read_article_file(path, root, max_bytes)
    assert isinstance(result, RawFile), result
    return result


def skip_reason(path: Path, root: Path, max_bytes: int = 10_000_000) -> str:
    result = read_article_file(path, root, max_bytes)
    assert isinstance(result, Skipped), result
    assert "\n" not in result.reason
    return result.reason


# --- discovery ---------------------------------------------------------------------------


def test_iter_corpus_files_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    for rel in [
        "b.txt",
        "a.md",
        "sub/c.html",
        "sub/deeper/d.htm",
        "_metadata.toml",
        "_draft.txt",
        ".hidden.txt",
        ".git/e.txt",
        "notes.pdf",
        "image.png",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(PROSE)
    found = [p.relative_to(tmp_path).as_posix() for p in iter_corpus_files(tmp_path)]
    assert found == ["a.md", "b.txt", "sub/c.html", "sub/deeper/d.htm"]


def test_iter_corpus_files_survives_a_directory_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text(PROSE)
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "self").symlink_to(tmp_path / "self", target_is_directory=True)
    found = iter_corpus_files(tmp_path)
    assert [p.name for p in found] == ["a.txt"]


def test_file_symlink_loop_is_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(PROSE)
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    names = [p.name for p in iter_corpus_files(tmp_path)]
    assert names == ["dangling.txt", "good.txt", "loop.txt"]
    assert skip_reason(tmp_path / "loop.txt", tmp_path) == "unreadable: symlink loop"
    assert skip_reason(tmp_path / "dangling.txt", tmp_path) == "unreadable: broken symlink"
    assert read(tmp_path / "good.txt", tmp_path).text == PROSE


def test_doc_ids_are_unique_for_repeated_stems() -> None:
    ids = assign_doc_ids(["z/report.txt", "report.txt", "a/report.md", "report.md", "x.txt"])
    assert ids["report.md"] == "report"
    assert ids["report.txt"] == "report__txt"
    assert ids["a/report.md"] == "a__report"
    assert ids["z/report.txt"] == "z__report"
    assert ids["x.txt"] == "x"
    assert len(set(ids.values())) == len(ids)


# --- decoding ----------------------------------------------------------------------------


def test_utf8_with_and_without_bom(tmp_path: Path) -> None:
    text = "Zürich – “quoted” text.\n"
    (tmp_path / "plain.txt").write_bytes(text.encode("utf-8"))
    (tmp_path / "bom.txt").write_bytes(text.encode("utf-8-sig"))
    (tmp_path / "utf16.txt").write_bytes(text.encode("utf-16"))
    for name in ("plain.txt", "bom.txt", "utf16.txt"):
        assert read(tmp_path / name, tmp_path).text == text


def test_committed_latin1_and_cp1251_articles_decode() -> None:
    latin = read(BAD / "latin1.txt", BAD).text
    assert latin.startswith("Café owners in Liège protest")
    assert "« Ce n'est pas raisonnable », said René Dubois." in latin
    cyrillic = read(BAD / "cp1251.txt", BAD).text
    assert cyrillic.startswith("Новый мост через Волгу откроют в июле")
    assert "14 миллиардов рублей" in cyrillic


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        ("latin-1", "Les élèves de Montréal ont fêté la réouverture du musée à Noël. Ça coûte."),
        (
            "cp1251",
            "Президент России Владимир Путин пригласил председателя КНР Си Цзиньпина "
            "посетить Москву весной. Визит покажет всему миру близость отношений.",
        ),
    ],
)
def test_legacy_encodings_decode_correctly(tmp_path: Path, codec: str, text: str) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(text.encode(codec))
    assert read(path, tmp_path).text == text
    assert decode_text(text.encode(codec)) == text


# --- bad files ---------------------------------------------------------------------------


def test_binary_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "nul.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert skip_reason(tmp_path / "nul.txt", tmp_path) == "binary file"
    controls = bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16]) * 50 + b"some text"
    (tmp_path / "controls.md").write_bytes(controls)
    assert skip_reason(tmp_path / "controls.md", tmp_path) == "binary file"


def test_empty_and_whitespace_files_are_skipped() -> None:
    assert skip_reason(BAD / "empty.txt", BAD) == "empty file"
    assert skip_reason(BAD / "whitespace_only.md", BAD) == "empty file"


def test_oversized_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text(PROSE * 10)
    reason = skip_reason(path, tmp_path, max_bytes=100)
    assert reason.startswith("larger than the 100 B limit")
    assert read(path, tmp_path, max_bytes=10_000).text == PROSE * 10
    assert format_bytes(10_000_000) == "10 MB"


def test_unreadable_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.txt"
    path.write_text(PROSE)
    path.chmod(0)
    try:
        if os.geteuid() == 0:  # root reads anything: simulate the denied open
            real = load._read_bytes

            def denied(target: Path, limit: int) -> bytes:
                if target == path:
                    raise PermissionError(13, "Permission denied", str(target))
                return real(target, limit)

            monkeypatch.setattr(load, "_read_bytes", denied)
        assert skip_reason(path, tmp_path) == "unreadable: permission denied"
    finally:
        path.chmod(0o644)


def test_vanished_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gone.txt"
    path.write_text(PROSE)
    real = load._read_bytes

    def vanish(target: Path, limit: int) -> bytes:
        target.unlink()
        return real(target, limit)

    monkeypatch.setattr(load, "_read_bytes", vanish)
    assert skip_reason(path, tmp_path) == "vanished while reading"


def test_file_that_never_existed_reads_as_vanished(tmp_path: Path) -> None:
    assert skip_reason(tmp_path / "missing.txt", tmp_path) == "vanished while reading"


def test_unsupported_type_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "slides.pdf"
    path.write_bytes(b"%PDF-1.7")
    assert skip_reason(path, tmp_path).startswith("unsupported file type")


def test_undecodable_text_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "odd.txt"
    path.write_bytes(b"\xff\xfe\xfd" * 10)
    monkeypatch.setattr(load, "decode_text", lambda data: None)
    assert skip_reason(path, tmp_path) == "undecodable text"


# --- formats -----------------------------------------------------------------------------


def test_html_article_through_trafilatura() -> None:
    raw = read(CORPUS / "kestrel_rail_strike.html", CORPUS)
    assert raw.fmt == "html"
    assert raw.doc_id == "kestrel_rail_strike"
    assert raw.path == "kestrel_rail_strike.html"
    assert raw.html_meta["title"] == "Kestrel rail workers strike over pay for second week"
    assert raw.html_meta["date"] == "2023-03-02"
    assert raw.html_meta["sitename"] == "Northern Courier"
    assert raw.html_meta["author"] == "Lena Okafor"
    paragraphs = raw.text.split("\n\n")
    assert any(p.startswith("Train drivers and signal staff") for p in paragraphs)
    assert any(p.startswith("The Union of Rail Workers is asking") for p in paragraphs)
    assert "<p>" not in raw.text
    assert "Privacy" not in raw.text


def test_html_without_article_text_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "blank.html"
    path.write_text("<html><head><title>x</title></head><body><script>1</script></body></html>")
    assert skip_reason(path, tmp_path) == "no article text found in the HTML"


def test_text_and_markdown_keep_their_raw_text() -> None:
    raw = read(CORPUS / "valmora_port_ledger.md", CORPUS)
    assert raw.fmt == "md"
    assert raw.html_meta == {}
    assert raw.text.startswith("---\ntitle:")


def test_markdown_to_text() -> None:
    markdown = (
        "# Heading here\n\n*By Marta Quell*\n\nA paragraph with **bold** and a "
        "[link](https://x.example)\nwrapped onto a second line.\n\n- item one\n- item two\n\n"
        "![chart](chart.png)\n"
    )
    assert markdown_to_text(markdown).split("\n\n") == [
        "Heading here",
        "By Marta Quell",
        "A paragraph with bold and a link wrapped onto a second line.",
        "item one",
        "item two",
    ]
