"""Loading whole corpora into `Article`s: the fixed test corpus, the seeds and bad files."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

import index.articles as articles_module
from index.articles import content_hash, load_article_file, load_articles
from index.metadata import read_sidecar
from rag.errors import CorpusError
from rag.types import Article, Skipped

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "corpus"
BAD = DATA / "bad"
SEEDS = Path(__file__).resolve().parent.parent / "seeds"

WIRE = (
    "The Port of Valmora reopened to cargo traffic on Tuesday, eleven days after Storm Edda "
    "tore through the harbour and sank two tugboats at their moorings."
)

GOOD = "The ferry to Sarnen now leaves every 40 minutes, the operator said on Monday.\n"


@pytest.fixture(scope="module")
def corpus() -> dict[str, Article]:
    articles, skipped = load_articles(CORPUS)
    assert skipped == []
    return {article.meta.doc_id: article for article in articles}


def test_fixed_corpus_metadata(corpus: dict[str, Article]) -> None:
    assert sorted(corpus) == [
        "brenna_solar_farm",
        "kestrel_rail_strike",
        "valmora_port_herald",
        "valmora_port_ledger",
    ]
    expected = {
        "valmora_port_herald": ("Coastal Herald", "2023-02-14", "front-matter"),
        "valmora_port_ledger": ("Daily Ledger", "2023-02-15", "front-matter"),
        "kestrel_rail_strike": ("Northern Courier", "2023-03-02", "html"),
        "brenna_solar_farm": ("Lakeside Gazette", "2023-01-09", "dateline"),
    }
    for doc_id, (source, published, date_source) in expected.items():
        meta = corpus[doc_id].meta
        assert (meta.source, meta.published, meta.date_source) == (source, published, date_source)
    assert corpus["valmora_port_herald"].meta.author == "Ines Halvorsen"
    assert corpus["valmora_port_herald"].meta.url == (
        "https://coastal-herald.example/2023/02/14/valmora-port-reopens"
    )
    assert corpus["kestrel_rail_strike"].meta.title == (
        "Kestrel rail workers strike over pay for second week"
    )
    assert corpus["brenna_solar_farm"].meta.title == (
        "Brenna council approves largest solar farm in the province"
    )


def test_fixed_corpus_text_is_clean(corpus: dict[str, Article]) -> None:
    for article in corpus.values():
        assert "---" not in article.text
        assert "title:" not in article.text
        assert article.meta.title not in article.text.split("\n\n")
        assert "#" not in article.text and "**" not in article.text
        assert article.path.endswith((".txt", ".md", ".html"))
    ledger = corpus["valmora_port_ledger"].text
    assert "By Marta Quell" not in ledger
    assert "told the Daily Ledger that" in ledger
    assert "to pay for the repairs." in ledger
    assert "Published 9 January 2023" not in corpus["brenna_solar_farm"].text


def test_wire_paragraph_is_carried_by_two_outlets(corpus: dict[str, Article]) -> None:
    carriers = sorted(doc for doc, article in corpus.items() if WIRE in article.text)
    assert carriers == ["valmora_port_herald", "valmora_port_ledger"]


def test_seeds_load_cleanly() -> None:
    articles, skipped = load_articles(SEEDS)
    assert skipped == []
    assert len(articles) == 5
    assert len({a.content_hash for a in articles}) == 5
    for article in articles:
        assert article.text and "\n\n\n" not in article.text
        assert article.path == f"{article.meta.doc_id}.txt"


def test_content_hash_follows_text_and_metadata(corpus: dict[str, Article]) -> None:
    article = corpus["valmora_port_herald"]
    assert content_hash(article.text, article.meta) == article.content_hash
    assert len(article.content_hash) == 64
    assert content_hash(article.text + " More.", article.meta) != article.content_hash
    moved = replace(article.meta, published="2023-02-13")
    assert content_hash(article.text, moved) != article.content_hash
    again, _ = load_articles(CORPUS)
    assert {a.meta.doc_id: a.content_hash for a in again}[article.meta.doc_id] == (
        article.content_hash
    )


def test_missing_corpus_folder_raises(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_folder"
    with pytest.raises(CorpusError) as caught:
        load_articles(missing)
    assert "no_such_folder" in str(caught.value)
    assert str(tmp_path) not in str(caught.value)
    assert "NEWSDESK_CORPUS" in str(caught.value)
    afile = tmp_path / "file.txt"
    afile.write_text(GOOD)
    with pytest.raises(CorpusError, match="NEWSDESK_CORPUS"):
        load_articles(afile)


def test_empty_corpus_folder_gives_nothing(tmp_path: Path) -> None:
    assert load_articles(tmp_path) == ([], [])


def test_committed_bad_files() -> None:
    articles, skipped = load_articles(BAD)
    reasons = {item.path: item.reason for item in skipped}
    assert reasons == {
        "empty.txt": "empty file",
        "whitespace_only.md": "empty file",
        "only_chrome.txt": "no article text left after removing page boilerplate",
        "no_text.html": "no article text left after removing page boilerplate",
    }
    loaded = {a.meta.doc_id: a for a in articles}
    assert sorted(loaded) == ["broken_front_matter", "cp1251", "latin1"]
    assert loaded["broken_front_matter"].meta.source == "Harbour Weekly"
    assert loaded["broken_front_matter"].text.startswith("The Sarnen ferry will leave")
    assert "René Dubois" in loaded["latin1"].text
    assert loaded["cp1251"].meta.title == "Новый мост через Волгу откроют в июле"


def test_every_good_article_survives_bad_neighbours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in CORPUS.iterdir():
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "self.txt").symlink_to(tmp_path / "self.txt")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    (tmp_path / "empty.md").write_text("   \n")
    (tmp_path / "huge.txt").write_text(GOOD * 200)
    (tmp_path / "latin.txt").write_bytes(
        "Le café de René a fermé à Liège, dit-il.\n".encode("latin-1")
    )
    (tmp_path / "sub" / "vanishing.txt").write_text(GOOD)
    (tmp_path / "sub" / "valmora_port_herald.txt").write_text(GOOD)

    real_iter = articles_module.iter_corpus_files

    def list_then_delete(folder: Path) -> list[Path]:
        found = real_iter(folder)
        (tmp_path / "sub" / "vanishing.txt").unlink()
        return found

    monkeypatch.setattr(articles_module, "iter_corpus_files", list_then_delete)
    articles, skipped = load_articles(tmp_path, max_bytes=5_000)

    reasons = {item.path: item.reason for item in skipped}
    assert reasons["self.txt"] == "unreadable: symlink loop"
    assert reasons["binary.txt"] == "binary file"
    assert reasons["empty.md"] == "empty file"
    assert reasons["huge.txt"].startswith("larger than the 5 kB limit")
    assert reasons["sub/vanishing.txt"] == "vanished while reading"
    assert len(reasons) == 5

    ids = {a.meta.doc_id: a for a in articles}
    assert set(ids) == {
        "brenna_solar_farm",
        "kestrel_rail_strike",
        "valmora_port_herald",
        "valmora_port_ledger",
        "latin",
        "sub__valmora_port_herald",
    }
    assert ids["latin"].text == "Le café de René a fermé à Liège, dit-il."
    assert ids["sub__valmora_port_herald"].path == "sub/valmora_port_herald.txt"
    assert ids["valmora_port_herald"].meta.source == "Coastal Herald"


def test_load_single_file_with_sidecar() -> None:
    sidecar = read_sidecar(CORPUS)
    article = load_article_file(CORPUS / "brenna_solar_farm.txt", CORPUS, 10_000_000, sidecar)
    assert isinstance(article, Article)
    assert article.meta.source == "Lakeside Gazette"
    assert article.meta.doc_id == "brenna_solar_farm"
    bare = load_article_file(CORPUS / "brenna_solar_farm.txt", CORPUS)
    assert isinstance(bare, Article)
    assert bare.meta.source is None
    assert bare.text == article.text


def test_load_single_uploaded_file_outside_the_corpus(tmp_path: Path) -> None:
    upload = tmp_path / "upload.md"
    upload.write_text("---\ntitle: Ferry timetable\npublished: 2023-04-03\n---\n" + GOOD)
    article = load_article_file(upload, CORPUS, 10_000_000)
    assert isinstance(article, Article)
    assert article.path == "upload.md"
    assert (article.meta.title, article.meta.published) == ("Ferry timetable", "2023-04-03")
    assert article.text == GOOD.strip()
    bad = load_article_file(tmp_path / "gone.txt", tmp_path, 10_000_000)
    assert isinstance(bad, Skipped)
