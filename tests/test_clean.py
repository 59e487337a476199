"""Cleaning of scraped article text: the real seeds, each rule, and properties."""

from __future__ import annotations

import re
from pathlib import Path

import ftfy
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from index.clean import (
    clean_text,
    drop_repeated_lead,
    fix_mojibake,
    is_caption,
    is_chrome,
    is_nav_line,
    remove_inline_teasers,
    remove_profile_blocks,
    repair_codec_mojibake,
    split_paragraphs,
    strip_boilerplate,
    strip_byline_prefix,
    strip_inline_datelines,
    truncate_at_comment_form,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

TITLES = {
    "000": '"Want to strengthen cooperation": Putin invites Xi to Moscow',
    "001": "Putin invites Xi to Moscow, pledges increased military partnership",
    "003": "Xi to meet Putin in Russia next week",
    "004": "Putin invites Xi to Moscow as Russia pursues alliance with China",
}

# Web chrome in each seed, as it reads after mojibake repair. Whole lines and inline pieces.
BOILERPLATE: dict[str, list[str]] = {
    "000": [],
    "001": [
        "Mike Brest",
        "Video Embed",
        "YEAR IN REVIEW: THE PENTAGON’S 2022 DEFINED BY HELPING UKRAINE IN WAR WITH RUSSIA",
        "CLICK HERE TO READ MORE FROM THE WASHINGTON EXAMINER",
    ],
    "002": [
        "date 2022-12-31",
        "New Delhi ,",
        "Russian President Vladimir Putin attends a meeting with Chinese President Xi Jinping "
        "in Beijing in February 2022. (Photo: Reuters)",
        "By India Today Web Desk:",
        "READ | Russian World: Putin seeks closer ties with India and China with new foreign "
        "policy",
        "READ ALSO | Russia and China to hold joint naval drills this week",
        "READ ALSO | War and crime: the conflicts with which we enter 2023",
        "Posted on: December 31, 2022",
    ],
    "003": [
        "Leave a Reply",
        "Your email address will not be published. Required fields are marked *",
        "GreenLeaf Tw2sl",
    ],
    "004": [
        "What's new",
        "Joined",
        "Oct 15, 2017",
        "Messages",
        "28,401",
        "Reaction score",
        "-82",
        "Country",
        "Canada",
        "Location",
        "Latest posts",
        "Country Latest Posts",
        "Back",
        "Top Bottom",
    ],
}


def seed_path(prefix: str) -> Path:
    return next(SEEDS.glob(f"{prefix}_*.txt"))


def reference_fix(text: str) -> str:
    """Mojibake repair done independently of `index.clean`: ftfy plus the cp874 en dash."""
    return ftfy.fix_text(text, uncurl_quotes=False).replace("โ€“", "–")


def squash(text: str) -> str:
    return " ".join(text.split())


def sentences(text: str) -> list[str]:
    """Split prose into sentence-like pieces (good enough to test for lost text)."""
    pieces = re.split(r"(?<=[.!?])\s+|(?<=[.!?][”\"’])\s+|\n", text)
    return [squash(p) for p in pieces if squash(p).strip(" .,")]


def body_without_boilerplate(prefix: str) -> str:
    """The seed as fixed text, with its title and known boilerplate taken out."""
    text = reference_fix(seed_path(prefix).read_text(encoding="utf-8"))
    fragments = [*BOILERPLATE[prefix], *([TITLES[prefix]] if prefix in TITLES else [])]
    lines = [line for line in text.splitlines() if line.strip() not in fragments]
    text = "\n".join(lines)
    for fragment in fragments:
        text = text.replace(fragment, "\n")
    return text


@pytest.fixture(scope="module")
def cleaned_seeds() -> dict[str, str]:
    return {
        prefix: clean_text(seed_path(prefix).read_text(encoding="utf-8"), TITLES.get(prefix))
        for prefix in BOILERPLATE
    }


@pytest.mark.parametrize("prefix", sorted(BOILERPLATE))
def test_seed_boilerplate_is_removed(prefix: str, cleaned_seeds: dict[str, str]) -> None:
    cleaned = cleaned_seeds[prefix]
    paragraphs = cleaned.split("\n\n")
    for fragment in BOILERPLATE[prefix]:
        assert fragment not in paragraphs
        if len(fragment.split()) >= 3:
            assert fragment not in cleaned
    assert "โ€" not in cleaned
    assert "â€" not in cleaned
    if prefix in TITLES:
        assert TITLES[prefix] not in paragraphs


@pytest.mark.parametrize("prefix", sorted(BOILERPLATE))
def test_seed_keeps_every_sentence(prefix: str, cleaned_seeds: dict[str, str]) -> None:
    cleaned = squash(cleaned_seeds[prefix])
    expected = sentences(body_without_boilerplate(prefix))
    assert len(expected) > 5
    missing = [sentence for sentence in expected if sentence not in cleaned]
    assert missing == []


def test_seed_paragraph_layout(cleaned_seeds: dict[str, str]) -> None:
    for cleaned in cleaned_seeds.values():
        assert "\n\n\n" not in cleaned
        assert cleaned == cleaned.strip()
        for paragraph in cleaned.split("\n\n"):
            assert paragraph == squash(paragraph)


def test_seed_000_repeated_title_and_lede_appear_once(cleaned_seeds: dict[str, str]) -> None:
    cleaned = cleaned_seeds["000"]
    assert cleaned.count("is increasingly seeking proximity to China") == 1
    assert "Putin invites Xi to Moscow" not in cleaned
    assert cleaned.startswith("Russia, which is largely ostracized")


def test_seed_002_inline_teasers_leave_the_sentences(cleaned_seeds: dict[str, str]) -> None:
    cleaned = cleaned_seeds["002"]
    assert "with China. Although the two had a “substantial and constructive” meeting" in cleaned
    assert "at large. So far, China has refrained" in cleaned
    assert "according to Chinese media. Russia has publicly supported" in cleaned
    assert "READ" not in cleaned


def test_seed_003_en_dash_and_comment_form(cleaned_seeds: dict[str, str]) -> None:
    cleaned = cleaned_seeds["003"]
    assert "the Russian invasion – or called it such" in cleaned
    assert cleaned.endswith("most recently in September at a a summit in Central Asia.")


def test_seeds_keep_curly_quotes(cleaned_seeds: dict[str, str]) -> None:
    assert "“We aim to strengthen cooperation" in cleaned_seeds["001"]
    assert "Moscow’s war in Ukraine" in cleaned_seeds["001"]


# --- mojibake --------------------------------------------------------------------------


def test_cp874_en_dash_is_repaired() -> None:
    assert fix_mojibake("invasion โ€“ or") == "invasion – or"
    for char in "—…":
        assert repair_codec_mojibake(char.encode().decode("cp874")) == char


def test_cp1252_mojibake_is_repaired_by_ftfy() -> None:
    assert fix_mojibake("Moscowâ€™s war") == "Moscow’s war"


def test_real_thai_text_is_left_alone() -> None:
    thai = "ประเทศไทย “ข่าว” — เมืองหลวง"
    assert fix_mojibake(thai) == thai


def test_curly_quotes_and_dashes_are_kept() -> None:
    text = "“Yes,” she said – ‘maybe’ — later…"
    assert fix_mojibake(text) == text


# --- single rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        (
            "ties with China. READ | Russian World: Putin seeks closer ties with India and China "
            "with new foreign policy Although the two had a meeting.",
            "ties with China. Although the two had a meeting.",
        ),
        (
            "at large. READ ALSO | Russia and China to hold joint naval drills this week So far, "
            "China has refrained.",
            "at large. So far, China has refrained.",
        ),
        (
            "media. READ ALSO | War and crime: the conflicts with which we enter 2023 Russia has "
            "publicly supported Xi.",
            "media. Russia has publicly supported Xi.",
        ),
        ("No teaser here. Read | not a marker in lower case.", None),
        ("The end. READ | Five things to know about the summit", "The end."),
    ],
)
def test_remove_inline_teasers(paragraph: str, expected: str | None) -> None:
    assert remove_inline_teasers(paragraph) == (paragraph if expected is None else expected)


def test_teaser_without_a_clear_end_keeps_the_text() -> None:
    words = " ".join(["word"] * 40)
    assert remove_inline_teasers(f"Start. READ | {words}") == f"Start. {words}"


def test_profile_block_is_removed_but_a_single_label_is_not() -> None:
    block = ["Intro line.", "Joined", "Oct 15, 2017", "Messages", "28,401", "Body text."]
    assert remove_profile_blocks(block) == ["Intro line.", "Body text."]
    single = ["Location", "The summit will take place in Samarkand next week."]
    assert remove_profile_blocks(single) == single


def test_comment_form_truncates_the_rest() -> None:
    paragraphs = ["Body.", "Leave a Reply", "Your email address will not be published.", "junk"]
    assert truncate_at_comment_form(paragraphs) == ["Body."]
    assert truncate_at_comment_form(["Readers may leave a reply below."]) == [
        "Readers may leave a reply below."
    ]
    sentence = "12 replies came in from ministries, " + "and more words followed " * 4 + "later."
    assert truncate_at_comment_form(["Body.", sentence]) == ["Body.", sentence]


@pytest.mark.parametrize(
    "line",
    ["What's new", "Latest posts", "Top Bottom", "Back", "Video Embed", "Share on Facebook"],
)
def test_navigation_lines(line: str) -> None:
    assert is_nav_line(line)
    assert is_chrome(line)


@pytest.mark.parametrize(
    "line",
    [
        "Back to work.",
        "Putin invites Xi to Moscow",
        "The Kremlin said the talks were constructive.",
        "Putin and Xi held a final virtual meeting in December.",
    ],
)
def test_prose_and_headlines_are_not_chrome(line: str) -> None:
    assert not is_chrome(line)


@pytest.mark.parametrize(
    "line",
    [
        "CLICK HERE TO READ MORE FROM THE WASHINGTON EXAMINER",
        "YEAR IN REVIEW: THE PENTAGON’S 2022 DEFINED BY HELPING UKRAINE IN WAR WITH RUSSIA",
        "Read more: Kremlin confirms the visit",
        "date 2022-12-31",
        "Published 30 December 2022",
        "New Delhi ,",
        "WASHINGTON:",
        "By Mike Brest",
        "Putin in Beijing in February 2022. (Photo: Reuters)",
    ],
)
def test_chrome_lines(line: str) -> None:
    assert is_chrome(line)


def test_caption_needs_a_credit() -> None:
    assert is_caption("Xi and Putin in Moscow. (Image: Getty)")
    assert not is_caption("Xi (left) met Putin (right) in Moscow.")
    long_paragraph = "Putin and Xi spoke for hours about trade and security. " * 8
    assert not is_caption(long_paragraph + "(Photo: Reuters)")


def test_byline_prefix_and_datelines_inside_paragraphs() -> None:
    assert strip_byline_prefix("By India Today Web Desk: Russian President ...") == (
        "Russian President ..."
    )
    assert strip_byline_prefix("By Friday, talks had ended.") == "By Friday, talks had ended."
    assert strip_inline_datelines("monitoring activity. Posted on: December 31, 2022") == (
        "monitoring activity."
    )
    assert strip_inline_datelines("Updated: 2023-03-17 10:00 Xi will visit.") == "Xi will visit."


def test_repeated_lead_keeps_the_fuller_copy() -> None:
    paragraphs = ["Title", "Lede sentence here.", "Title", "Lede sentence here. More text."]
    assert drop_repeated_lead(paragraphs) == ["Title", "Lede sentence here. More text."]


def test_byline_under_headline_and_title_removal() -> None:
    text = "Big storm hits Valmora\nIna Halvor\nThe storm sank two tugs."
    assert strip_boilerplate(split_paragraphs(text)) == [
        "Big storm hits Valmora",
        "The storm sank two tugs.",
    ]
    assert clean_text(text, title="Big storm hits Valmora") == "The storm sank two tugs."


def test_hard_wrapped_lines_are_joined() -> None:
    text = (
        "The council voted on Monday to approve the\n"
        "Port of Valmora repair plan, which would cost,\n"
        "according to the ministry, 48 million euros.\nA second paragraph starts here."
    )
    assert split_paragraphs(text) == [
        "The council voted on Monday to approve the Port of Valmora repair plan, which would "
        "cost, according to the ministry, 48 million euros.",
        "A second paragraph starts here.",
    ]


def test_whitespace_is_normalised() -> None:
    assert clean_text("  A\u00a0 line \t with  spaces. \r\n\r\n\r\nNext   one.  ") == (
        "A line with spaces.\n\nNext one."
    )


# --- properties ------------------------------------------------------------------------

WORDS = st.sampled_from(
    "the council said on monday that harbour repairs will cost more than expected and "
    "ministers agreed to share the bill with the region after storm damage last week".split()
)


@st.composite
def prose_sentence(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, min_size=4, max_size=14))
    number = draw(st.integers(min_value=0, max_value=9999))
    words.insert(draw(st.integers(0, len(words))), str(number))
    sentence = " ".join(words)
    return sentence[0].upper() + sentence[1:] + draw(st.sampled_from([".", "!", "?"]))


@st.composite
def prose(draw: st.DrawFn) -> str:
    paragraphs = draw(
        st.lists(
            st.lists(prose_sentence(), min_size=1, max_size=4).map(" ".join),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    # The repeated-lead rule drops a paragraph that a later one starts with.
    for i, first in enumerate(paragraphs):
        for second in paragraphs[i + 1 :]:
            assume(not (second.startswith(first) or first.startswith(second)))
    return "\n\n".join(paragraphs)


CHROME_LINES = [line for lines in BOILERPLATE.values() for line in lines] + [
    "Leave a Reply",
    "By India Today Web Desk: The talks went on.",
    "Posted on: December 31, 2022",
    "Putin invites Xi to Moscow",
    "Mike Brest",
]


@st.composite
def scraped(draw: st.DrawFn) -> str:
    pieces = draw(
        st.lists(
            st.one_of(prose_sentence(), st.sampled_from(CHROME_LINES), st.text(max_size=40)),
            max_size=12,
        )
    )
    separators = draw(st.lists(st.sampled_from(["\n", "\n\n", " "]), min_size=len(pieces)))
    return "".join(p + s for p, s in zip(pieces, separators, strict=False))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(scraped(), st.text()))
def test_clean_text_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prose())
def test_plain_prose_loses_no_words(text: str) -> None:
    cleaned = clean_text(text)
    assert cleaned.split() == text.split()
    assert cleaned == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=300))
def test_arbitrary_unicode_never_raises(text: str) -> None:
    cleaned = clean_text(text, title=text[:20] or None)
    assert isinstance(cleaned, str)
    assert "\n\n\n" not in cleaned


def test_title_taken_from_the_first_sentence_stays_in_the_text() -> None:
    text = "Only one sentence in this article."
    assert clean_text(text, title=text) == text
