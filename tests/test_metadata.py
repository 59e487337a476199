"""Metadata: front matter, sidecar, datelines, outlet and title guesses, and precedence."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from index.articles import load_articles
from index.metadata import (
    build_meta,
    find_dateline,
    guess_author,
    guess_source,
    guess_title,
    parse_date,
    read_sidecar,
    sidecar_entry,
    split_front_matter,
)
from rag.errors import CorpusError
from rag.types import Article

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

EXPECTED = {
    "000": (None, "2022-12-30"),
    "001": ("Washington Examiner", "2022-12-30"),
    "002": ("India Today", "2022-12-31"),
    "003": (None, "2023-03-17"),
    "004": ("The Guardian (forum repost)", "2022-12-30"),
}


def by_prefix(articles: list[Article]) -> dict[str, Article]:
    return {article.meta.doc_id[:3]: article for article in articles}


@pytest.fixture(scope="module")
def seeds() -> dict[str, Article]:
    articles, skipped = load_articles(SEEDS)
    assert skipped == []
    return by_prefix(articles)


@pytest.fixture(scope="module")
def seeds_without_sidecar(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Article]:
    folder = tmp_path_factory.mktemp("bare_seeds")
    for path in SEEDS.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    articles, _ = load_articles(folder)
    return by_prefix(articles)


# --- the five seeds ---------------------------------------------------------------------


@pytest.mark.parametrize("prefix", sorted(EXPECTED))
def test_seed_metadata(prefix: str, seeds: dict[str, Article]) -> None:
    meta = seeds[prefix].meta
    source, published = EXPECTED[prefix]
    assert meta.title.strip()
    assert meta.source == source
    assert meta.published == published
    assert meta.date_source == "sidecar"


def test_seed_titles(seeds: dict[str, Article]) -> None:
    assert seeds["002"].meta.title == "Putin invites Xi Jinping to Moscow for a state visit"
    assert seeds["004"].meta.title == (
        "Putin invites Xi to Moscow as Russia pursues alliance with China"
    )
    assert seeds["001"].meta.author == "Mike Brest"


def test_seed_sidecar_comments_explain_each_date() -> None:
    text = (SEEDS / "_metadata.toml").read_text(encoding="utf-8")
    for prefix in EXPECTED:
        header = next(line for line in text.splitlines() if line.startswith(f'["{prefix}_'))
        before = text[: text.index(header)].rstrip().splitlines()
        assert before[-1].startswith("#"), f"no comment above {header}"


def test_seed_metadata_from_the_text_alone(seeds_without_sidecar: dict[str, Article]) -> None:
    meta = {prefix: article.meta for prefix, article in seeds_without_sidecar.items()}
    assert meta["001"].source == "Washington Examiner"
    assert meta["001"].author == "Mike Brest"
    assert meta["002"].source == "India Today"
    assert (meta["002"].published, meta["002"].date_source) == ("2022-12-31", "dateline")
    # The forum profile's "Joined Oct 15, 2017" is not a publication date.
    assert meta["004"].published is None
    assert meta["004"].date_source is None
    assert meta["004"].title == "Putin invites Xi to Moscow as Russia pursues alliance with China"
    assert meta["000"].title == '"Want to strengthen cooperation": Putin invites Xi to Moscow'
    assert meta["003"].title == "Xi to meet Putin in Russia next week"
    assert meta["002"].title.startswith("Russian President Vladimir Putin invited his Chinese")
    assert len(meta["002"].title) <= 120


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-12-31", "2022-12-31"),
        ("2023-03-17T08:30:00+00:00", "2023-03-17"),
        ("2022/12/31", "2022-12-31"),
        ("December 31, 2022", "2022-12-31"),
        ("30 December 2022", "2022-12-30"),
        ("Fri, 30 Dec. 2022", "2022-12-30"),
        ("Friday, December 30th, 2022", "2022-12-30"),
        ("17 Sept 2023", "2023-09-17"),
        (dt.date(2022, 12, 30), "2022-12-30"),
        (dt.datetime(2022, 12, 30, 10, 0), "2022-12-30"),
        ("2022-02-30", None),
        ("yesterday", None),
        (20221230, None),
    ],
)
def test_parse_date(value: object, expected: str | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" date 2022-12-31 \n\nBody.", "2022-12-31"),
        ("Body text. Posted on: December 31, 2022", "2022-12-31"),
        ("Headline\nPublished 30 December 2022\nBody.", "2022-12-30"),
        ("Headline\nUpdated: 2023-01-02\nPublished: 2022-12-30\nBody.", "2022-12-30"),
        ("Headline\nUpdated: 2023-01-02\nBody.", "2023-01-02"),
        ("Headline\nDecember 30, 2022\nBody.", "2022-12-30"),
        ("MOSCOW, 2022-12-30 (Reuters) - Putin said.", "2022-12-30"),
        ("A report published 30 December 2022 said so.", None),
        ("Joined\nOct 15, 2017\nMessages\n28,401\n\nBody.", None),
        ("No date here at all.", None),
    ],
)
def test_find_dateline(text: str, expected: str | None) -> None:
    assert find_dateline(text) == expected


# --- front matter and sidecar -------------------------------------------------------------


def test_front_matter_is_parsed_and_removed() -> None:
    text = (
        "---\ntitle: Port reopens\nsource: Coastal Herald\npublished: 2023-02-14\n"
        "url: https://x.example/a\nauthor: Ines Halvorsen\nextra: ignored\n---\nBody text.\n"
    )
    fields, body = split_front_matter(text)
    assert fields == {
        "title": "Port reopens",
        "source": "Coastal Herald",
        "published": "2023-02-14",
        "url": "https://x.example/a",
        "author": "Ines Halvorsen",
    }
    assert body == "Body text.\n"


def test_front_matter_fields_may_be_absent_or_aliased() -> None:
    fields, body = split_front_matter("---\noutlet: Daily Ledger\ndate: 15 Feb 2023\n---\nText")
    assert fields == {"source": "Daily Ledger", "published": "2023-02-15"}
    assert body == "Text"
    assert split_front_matter("No front matter.\n---\nnot: yaml") == (
        {},
        "No front matter.\n---\nnot: yaml",
    )


def test_invalid_front_matter_is_removed_keeping_good_lines() -> None:
    fields, body = split_front_matter("---\ntitle: [unclosed\nsource: Harbour Weekly\n---\nText")
    assert fields == {"source": "Harbour Weekly"}
    assert body == "Text"


def test_sidecar_reads_tables_and_toml_dates(tmp_path: Path) -> None:
    (tmp_path / "_metadata.toml").write_text(
        '# how the date was established\n["a.txt"]\ntitle = "A"\npublished = 2023-03-17\n'
        '["sub/b.md"]\nsource = "B News"\n'
    )
    sidecar = read_sidecar(tmp_path)
    assert sidecar["a.txt"] == {"title": "A", "published": "2023-03-17"}
    assert sidecar_entry(sidecar, "deep/a.txt") == {"title": "A", "published": "2023-03-17"}
    assert sidecar_entry(sidecar, "sub/b.md") == {"source": "B News"}
    assert sidecar_entry(sidecar, "c.txt") == {}
    assert read_sidecar(tmp_path / "nowhere") == {}


def test_broken_sidecar_raises_a_corpus_error(tmp_path: Path) -> None:
    (tmp_path / "_metadata.toml").write_text('["a.txt"\ntitle = \n')
    with pytest.raises(CorpusError, match="fix it or remove it"):
        read_sidecar(tmp_path)


# --- guesses from the text ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Intro.\nCLICK HERE TO READ MORE FROM THE WASHINGTON EXAMINER\nMore.",
            "Washington Examiner",
        ),
        ("By India Today Web Desk: Russian President ...", "India Today"),
        ("By Hindustan Times News Desk\nBody.", "Hindustan Times"),
        ("MOSCOW (Reuters) - Putin said on Friday.", "Reuters"),
        ("Body.\n© 2023 Northern Courier. All rights reserved.", "Northern Courier"),
        ("By Mike Brest\nBody text without an outlet.", None),
        ("Plain text that names nobody.", None),
    ],
)
def test_guess_source(text: str, expected: str | None) -> None:
    assert guess_source(text) == expected


def test_guess_title() -> None:
    assert guess_title("Xi to meet Putin\n\nBody sentence.") == "Xi to meet Putin"
    long_first = "Russian President Vladimir Putin invited Xi. " + "More words here. " * 20
    assert guess_title(long_first) == "Russian President Vladimir Putin invited Xi."
    very_long = "word " * 60 + "end."
    title = guess_title(very_long)
    assert title is not None and len(title) <= 120 and title.endswith("…")
    assert guess_title("") is None


def test_guess_author() -> None:
    assert guess_author("Headline here\nMike Brest\nBody.") == "Mike Brest"
    assert guess_author("Headline\n\nBy Lena Okafor\n\nBody.") == "Lena Okafor"
    assert guess_author("By India Today Web Desk: Russian President ...") is None


def test_precedence_front_matter_sidecar_html_dateline() -> None:
    raw = "Headline from text\n\nPublished 1 January 2023\n\nBody sentence here."
    cleaned = "Headline from text\n\nBody sentence here."
    html = {"title": "HTML title", "date": "2023-01-03", "sitename": "HTML Site"}
    sidecar = {"title": "Sidecar title", "published": "2023-01-02", "source": "Sidecar News"}
    front = {"title": "Front title", "published": "2023-01-04", "source": "Front News"}

    def meta(front_matter: dict[str, str], side: dict[str, str], html_meta: dict[str, str]):
        return build_meta(
            "doc",
            front_matter=front_matter,
            sidecar=side,
            html_meta=html_meta,
            raw_text=raw,
            cleaned_untitled=cleaned,
        )

    full = meta(front, sidecar, html)
    assert (full.title, full.source, full.published, full.date_source) == (
        "Front title",
        "Front News",
        "2023-01-04",
        "front-matter",
    )
    side = meta({}, sidecar, html)
    assert (side.title, side.source, side.published, side.date_source) == (
        "Sidecar title",
        "Sidecar News",
        "2023-01-02",
        "sidecar",
    )
    from_html = meta({}, {}, html)
    assert (from_html.title, from_html.source, from_html.published, from_html.date_source) == (
        "HTML title",
        "HTML Site",
        "2023-01-03",
        "html",
    )
    from_text = meta({}, {}, {})
    assert (from_text.title, from_text.source, from_text.published, from_text.date_source) == (
        "Headline from text",
        None,
        "2023-01-01",
        "dateline",
    )
