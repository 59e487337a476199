"""Pure functions that turn scraped article text into clean prose.

`clean_text` repairs mojibake, drops web chrome (navigation, forum profile blocks, teasers,
captions, bylines, datelines, comment forms) and returns paragraphs separated by a blank
line. Sentences of the article itself are kept verbatim: rules only ever remove whole
paragraphs or clearly delimited pieces of chrome, and never rewrite a sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache

import ftfy

Paragraphs = list[str]

# Single-byte codecs that ftfy does not try when undoing mojibake (see
# `ftfy.chardata.CHARMAP_ENCODINGS`). cp874 is Thai Windows: UTF-8 punctuation read as
# cp874 turns "–" (E2 80 93) into "โ€“".
EXTRA_MOJIBAKE_CODECS: tuple[str, ...] = ("cp874",)

MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
_WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+"
DATE_PATTERN = (
    rf"(?:{_WEEKDAY})?"
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    rf"|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS})\.?,?\s+\d{{4}})"
)
_TIME = (
    r"(?:(?:,|\s+at|\s*T|\s*\|)?\s*\d{1,2}[:.]\d{2}(?::\d{2})?"
    r"(?:\s*[AaPp]\.?[Mm]\.?)?(?:\s*\(?(?-i:[A-Z]{2,5})\b\)?)?)?"
)
DATE_LABEL = r"(?:date[d]?|published|posted|updated|last\s+updated|first\s+published)(?:\s+on)?"

# --- paragraph-level patterns -------------------------------------------------------------

# A comment form ends the article: everything from its first line on is dropped.
_COMMENT_FORM = re.compile(
    r"^(?:leave\s+a\s+(?:reply|comment)|post\s+a\s+comment|add\s+a\s+comment|"
    r"join\s+the\s+(?:conversation|discussion)|\d+\s+(?:comments|responses|replies)|"
    r"your\s+email\s+address\s+will\s+not\s+be\s+published|"
    r"you\s+must\s+be\s+logged\s+in\s+to\s+(?:post\s+a\s+)?comment)\b",
    re.IGNORECASE,
)
MAX_COMMENT_FORM_WORDS = 15

# Words that make up navigation lines ("What's new", "Latest posts", "Top Bottom", "Back").
_NAV_TEXT = """
    what's whats new latest posts post back top bottom home menu search log login logout in
    out register sign up share tweet email print next previous prev related articles stories
    on story more read subscribe forums forum threads thread members member reply replies quote
    like likes follow us advertisement advertisements ad ads skip to content comments
    comment video videos embed photo photos gallery newsletter newsletters trending popular
    most country watch listen continue reading show hide close open toggle navigation
    sidebar report bookmark copy link links facebook twitter whatsapp linkedin reddit
    telegram pinterest scroll view all page go sponsored topics topic tags categories media
    image images loading sections section also jump unread
"""
NAV_WORDS = frozenset(_NAV_TEXT.split())
MAX_NAV_WORDS = 6

# Labels of forum profile blocks: a label line followed by a short value line.
_PROFILE_TEXT = """
    joined, messages, reaction score, points, trophy points, country, location, posts, likes,
    likes received, gender, age, website, occupation, member since, registered, credits,
    threads, reputation, rank, status, solutions
"""
PROFILE_LABELS = frozenset(label.strip() for label in _PROFILE_TEXT.split(","))
_PROFILE_VALUE = re.compile(r"^[^.!?]{1,40}$")
_MIN_PROFILE_PAIRS = 2

# Teaser lines that point elsewhere: "CLICK HERE TO READ MORE FROM ...", "READ MORE: ...".
_TEASER_LINE = re.compile(
    r"^(?:click\s+here|read\s+more|read\s+also|also\s+read|see\s+also|related\s*:|"
    r"more\s+from|sign\s+up\s+for|subscribe\s+to|watch\s*:|listen\s*:)\b",
    re.IGNORECASE,
)
_MAX_TEASER_LINE_WORDS = 25

# "... (Photo: Reuters)", "(Image: Getty)", "Photograph: AFP/Getty Images".
_CAPTION = re.compile(
    r"(?:\((?:file\s+)?(?:photo|image|picture|photograph|video|credit|pic)s?\b[^()]{0,80}\)"
    r"|^(?:photo|image|picture|photograph)s?\s*(?:credit)?\s*:\s*[^.]{1,80})\s*$",
    re.IGNORECASE,
)

MAX_CAPTION_WORDS = 50

# A line that is only a dateline: "date 2022-12-31", "Published 30 December 2022".
_DATELINE_ONLY = re.compile(rf"^(?:{DATE_LABEL})?\s*[:|-]?\s*{DATE_PATTERN}{_TIME}\s*$", re.I)
# A dateline at the end or start of a paragraph: "... Posted on: December 31, 2022".
_TRAILING_DATELINE = re.compile(rf"\s*\b{DATE_LABEL}\s*:\s*{DATE_PATTERN}{_TIME}\s*$", re.I)
_LEADING_DATELINE = re.compile(rf"^{DATE_LABEL}\s*:\s*{DATE_PATTERN}{_TIME}\s*[-|–—]?\s*", re.I)

# A place dateline alone on a line: "New Delhi ,", "WASHINGTON:".
_NAME_WORD = r"[A-Z][\w.'’-]*"
_PLACE_DATELINE = re.compile(rf"^{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}}\s*[,:]$")

# Bylines: "By Mike Brest", "By Mike Brest and Ann Lee, Reuters", "Posted by Ann Lee".
_BYLINE_LINE = re.compile(
    rf"^(?:[Bb]y|[Pp]osted\s+by|[Ww]ritten\s+by|[Ww]ords\s+by)\s+{_NAME_WORD}"
    rf"(?:(?:\s+|\s*,\s*|\s+and\s+|\s*&\s*){_NAME_WORD}){{0,7}}\s*$"
)
# A byline with a desk that runs into the first sentence: "By India Today Web Desk: Russian ...".
_BYLINE_PREFIX = re.compile(rf"^By\s+{_NAME_WORD}(?:\s+(?:{_NAME_WORD}|and|&)){{0,6}}\s*[:|]\s+")
# A bare author name directly under the headline: two to four capitalised words.
_NAME_LINE = re.compile(rf"^{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,3}}$")

# Inline teasers: "READ | <headline>", "READ ALSO | <headline>", "ALSO READ: <headline>".
_INLINE_TEASER = re.compile(
    r"(?<![\w|])(?:READ(?:\s+ALSO|\s+MORE)?|ALSO\s+READ|SEE\s+ALSO|MUST\s+READ|WATCH|"
    r"RELATED)\s*(?:\||:(?=\s+[A-Z“\"‘']))\s*"
)
# Words after which a capitalised word still belongs to a headline ("ties with India").
_FUNCTION_TEXT = """
    a an the and or but nor of to in on at by for from with without into onto over under as
    than vs vs. via about after before amid against between during per plus
"""
FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())
MAX_TEASER_WORDS = 25

_SPACES = re.compile(r"[^\S\n]+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")

# --- mojibake ---------------------------------------------------------------------------


@cache
def _mojibake_pattern(codec: str) -> re.Pattern[str] | None:
    """A regex for UTF-8 byte sequences of 3-4 bytes mis-decoded as `codec`.

    Only sequences with at least one continuation byte in 0x80-0x9F qualify: in single-byte
    Windows codecs those bytes are punctuation (€ … ‘ ’ “ ” – —), which real text in the
    codec's own script does not put after a lead letter, so correct text is left alone.
    """
    chars: dict[int, str] = {}
    for byte in range(0x80, 0x100):
        try:
            chars[byte] = bytes([byte]).decode(codec)
        except UnicodeDecodeError:
            continue

    def cls(lo: int, hi: int) -> str:
        found = [re.escape(chars[b]) for b in range(lo, hi + 1) if b in chars]
        return "[" + "".join(found) + "]" if found else ""

    lead3, lead4 = cls(0xE0, 0xEF), cls(0xF0, 0xF4)
    cont, c1 = cls(0x80, 0xBF), cls(0x80, 0x9F)
    if not (lead3 and cont and c1):
        return None
    three = f"{lead3}(?:{c1}{cont}|{cont}{c1})"
    four = f"{lead4}{cont}{cont}{cont}" if lead4 else ""
    alternatives = f"(?:{three}|{four})" if four else f"(?:{three})"
    return re.compile(f"{alternatives}+")


def _plausible(decoded: str) -> bool:
    return all(
        unicodedata.category(ch)[0] in "PSZLN"
        and unicodedata.category(ch) != "Lo"  # no letters of other scripts
        for ch in decoded
    )


def repair_codec_mojibake(text: str, codecs: Sequence[str] = EXTRA_MOJIBAKE_CODECS) -> str:
    """Undo UTF-8 punctuation read through single-byte codecs ftfy does not cover.

    Each suspicious run is re-encoded with the codec and decoded as UTF-8; the repair is
    kept only when that succeeds strictly and yields punctuation or symbols.
    """
    for codec in codecs:
        pattern = _mojibake_pattern(codec)
        if pattern is None:
            continue

        def fix(match: re.Match[str], codec: str = codec) -> str:
            run = match.group(0)
            try:
                decoded = run.encode(codec).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                return run
            return decoded if _plausible(decoded) else run

        text = pattern.sub(fix, text)
    return text


def fix_mojibake(text: str) -> str:
    """Repair mis-decoded text with ftfy (keeping curly quotes) and the extra codecs."""
    text = ftfy.fix_text(text, uncurl_quotes=False, fix_character_width=False)
    return repair_codec_mojibake(text)


# --- paragraphs -------------------------------------------------------------------------


def normalise_whitespace(line: str) -> str:
    """Collapse runs of spaces (including no-break and other Unicode spaces) and trim."""
    return _SPACES.sub(" ", line).strip()


def _continues(line: str, following: str) -> bool:
    """Whether `following` is the wrapped continuation of `line` rather than a new paragraph."""
    if not following:
        return False
    if following[0].islower():
        return True
    # A hard-wrapped line stops mid-sentence, after a comma or a word like "the".
    last = line.rsplit(" ", 1)[-1].lower()
    return len(line) >= 40 and (line.endswith((",", ";")) or last in FUNCTION_WORDS)


def split_paragraphs(text: str) -> Paragraphs:
    """Split text into whitespace-normalised paragraphs.

    Blank lines separate paragraphs, and so do line breaks, except that a line continuing
    the previous one (it starts in lower case, or the previous line stops after a comma or
    a word like "the") is joined to it.
    """
    paragraphs: Paragraphs = []
    for block in re.split(r"\n[^\S\n]*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        current = ""
        for raw_line in block.split("\n"):
            line = normalise_whitespace(raw_line)
            if not line:
                continue
            if current and _continues(current, line):
                current = f"{current} {line}"
            else:
                if current:
                    paragraphs.append(current)
                current = line
        if current:
            paragraphs.append(current)
    return paragraphs


def _words(paragraph: str) -> list[str]:
    return paragraph.split()


def is_headline(paragraph: str, max_words: int = 25) -> bool:
    """Whether a paragraph reads like a headline: short, with letters, no closing period."""
    words = _words(paragraph)
    return (
        0 < len(words) <= max_words
        and any(ch.isalpha() for ch in paragraph)
        and not paragraph.rstrip("\"'”’)").endswith((".", ",", ";", ":"))
    )


def is_nav_line(paragraph: str) -> bool:
    """A short line made only of navigation words ("What's new", "Top Bottom", "Back")."""
    words = [w.strip("\"'“”‘’()[]|•·»«>:-").lower().replace("’", "'") for w in _words(paragraph)]
    words = [w for w in words if w]
    return 0 < len(words) <= MAX_NAV_WORDS and all(w in NAV_WORDS for w in words)


def is_teaser_line(paragraph: str) -> bool:
    """A link to another story: "CLICK HERE ...", "READ MORE ...", or an all-caps headline."""
    if not 0 < len(_words(paragraph)) <= _MAX_TEASER_LINE_WORDS:
        return False
    if _is_caps_teaser(paragraph):
        return True
    return bool(_TEASER_LINE.match(paragraph)) and not _SENTENCE_END.search(paragraph)


def _is_caps_teaser(paragraph: str) -> bool:
    letters = [ch for ch in paragraph if ch.isalpha()]
    return (
        len(_words(paragraph)) >= 3
        and len(letters) >= 12
        and sum(ch.isupper() for ch in letters) / len(letters) > 0.9
        and not paragraph.endswith(".")
    )


def is_caption(paragraph: str) -> bool:
    """A photo caption or credit ("... (Photo: Reuters)", "Photograph: AFP").

    Long paragraphs are never captions, even when a credit was scraped onto their end.
    """
    return len(_words(paragraph)) <= MAX_CAPTION_WORDS and bool(_CAPTION.search(paragraph))


def is_dateline(paragraph: str) -> bool:
    """A paragraph that is only a date, with or without a label ("date 2022-12-31")."""
    return bool(_DATELINE_ONLY.match(paragraph))


def is_place_dateline(paragraph: str) -> bool:
    """A place name alone before the story ("New Delhi ,", "WASHINGTON:")."""
    return bool(_PLACE_DATELINE.match(paragraph))


def is_byline(paragraph: str) -> bool:
    """A line naming the author ("By Mike Brest", "Posted by Ann Lee")."""
    return bool(_BYLINE_LINE.match(paragraph))


def is_name_line(paragraph: str) -> bool:
    """Two to four capitalised words and nothing else, like an author's name."""
    return bool(_NAME_LINE.match(paragraph))


def is_chrome(paragraph: str) -> bool:
    """Whether a whole paragraph is web chrome rather than article text."""
    return any(
        check(paragraph)
        for check in (
            is_nav_line,
            is_teaser_line,
            is_caption,
            is_dateline,
            is_place_dateline,
            is_byline,
        )
    )


def truncate_at_comment_form(paragraphs: Paragraphs) -> Paragraphs:
    """Drop the comment form ("Leave a Reply", ...) and everything after it.

    Only a short line starts a comment form, so a sentence like "12 replies came in" does
    not cut the article.
    """
    for index, paragraph in enumerate(paragraphs):
        if len(_words(paragraph)) <= MAX_COMMENT_FORM_WORDS and _COMMENT_FORM.match(paragraph):
            return paragraphs[:index]
    return paragraphs


def _profile_label(paragraph: str) -> str | None:
    label = paragraph.rstrip(":").strip().lower()
    return label if label in PROFILE_LABELS else None


def _is_profile_pair(paragraphs: Paragraphs, index: int) -> bool:
    return (
        index + 1 < len(paragraphs)
        and _profile_label(paragraphs[index]) is not None
        and bool(_PROFILE_VALUE.match(paragraphs[index + 1]))
        and len(_words(paragraphs[index + 1])) <= 5
    )


def remove_profile_blocks(paragraphs: Paragraphs) -> Paragraphs:
    """Drop forum profile blocks: at least two label/value line pairs in a row.

    e.g. "Joined" / "Oct 15, 2017" / "Messages" / "28,401" / "Country" / "Canada".
    """
    kept: Paragraphs = []
    index = 0
    while index < len(paragraphs):
        end = index
        while _is_profile_pair(paragraphs, end):
            end += 2
        if (end - index) // 2 >= _MIN_PROFILE_PAIRS:
            index = end
            continue
        kept.append(paragraphs[index])
        index += 1
    return kept


def drop_chrome_paragraphs(paragraphs: Paragraphs) -> Paragraphs:
    """Drop paragraphs that are navigation, teasers, captions, bylines or datelines."""
    return [p for p in paragraphs if not is_chrome(p)]


def strip_byline_prefix(paragraph: str) -> str:
    """Remove a byline that runs into the first sentence ("By India Today Web Desk: ...")."""
    return _BYLINE_PREFIX.sub("", paragraph, count=1)


def strip_inline_datelines(paragraph: str) -> str:
    """Remove a labelled date at the start or end of a paragraph ("Posted on: <date>")."""
    paragraph = _TRAILING_DATELINE.sub("", paragraph)
    return _LEADING_DATELINE.sub("", paragraph, count=1)


def _is_capitalised(token: str) -> bool:
    token = token.lstrip("“\"‘'(")
    return bool(token) and token[0].isupper()


def _teaser_end(tokens: Sequence[str]) -> int:
    """Index of the first token after a teaser headline (len(tokens) when it runs to the end).

    The headline ends before a capitalised word that does not follow a function word or a
    colon ("... foreign policy | Although the two ..."). A run of capitalised words counts
    as one name, and it must be followed by a lower-case word to start a sentence.
    """
    index = 1
    while index < len(tokens):
        previous, token = tokens[index - 1], tokens[index]
        starts = (
            _is_capitalised(token)
            and not token.endswith(":")
            and previous.lower() not in FUNCTION_WORDS
            and not previous.endswith(":")
        )
        if not starts:
            index += 1
            continue
        run_end = index
        while run_end < len(tokens) and _is_capitalised(tokens[run_end]):
            run_end += 1
        if run_end < len(tokens) and not _is_capitalised(tokens[run_end]):
            return index
        index = run_end
    return len(tokens)


def remove_inline_teasers(paragraph: str) -> str:
    """Remove "READ | <headline>" teasers embedded in a paragraph, keeping the text around.

    A headline with no recognisable end within `MAX_TEASER_WORDS` words is left in place
    (only its marker goes), so article text is never cut.
    """
    while True:
        match = _INLINE_TEASER.search(paragraph)
        if match is None:
            return paragraph
        before, after = paragraph[: match.start()].rstrip(), paragraph[match.end() :]
        tokens = after.split()
        end = _teaser_end(tokens)
        if end > MAX_TEASER_WORDS:
            end = 0
        rest = " ".join(tokens[end:])
        paragraph = f"{before} {rest}".strip()


def drop_byline_under_headline(paragraphs: Paragraphs) -> Paragraphs:
    """Drop a bare author name ("Mike Brest") on the line right under a headline."""
    if len(paragraphs) >= 2 and is_headline(paragraphs[0]) and is_name_line(paragraphs[1]):
        return [paragraphs[0], *paragraphs[2:]]
    return paragraphs


def _key(paragraph: str) -> str:
    return " ".join(paragraph.casefold().split())


def drop_repeated_lead(paragraphs: Paragraphs, window: int = 6) -> Paragraphs:
    """Drop a paragraph near the top that a later one repeats or starts with.

    Scraped pages often show the headline and lede twice; the fuller later copy is kept.
    Only the first `window` paragraphs are examined, against the `window` after them.
    """
    keys = [_key(p) for p in paragraphs]
    kept: Paragraphs = []
    for index, paragraph in enumerate(paragraphs):
        key = keys[index]
        later = keys[index + 1 : index + 1 + window]
        repeated = index < window and any(
            other == key or (len(key.split()) >= 3 and other.startswith(key + " "))
            for other in later
        )
        if not repeated:
            kept.append(paragraph)
    return kept


def drop_title(paragraphs: Paragraphs, title: str | None, window: int = 6) -> Paragraphs:
    """Remove copies of the title (kept as metadata) from the first paragraphs.

    Only headline-like copies go: a title taken from the first sentence stays in the text.
    """
    if not title:
        return paragraphs
    title_key = _key(title)
    return [
        p
        for i, p in enumerate(paragraphs)
        if i >= window or _key(p) != title_key or not is_headline(p)
    ]


def strip_boilerplate(paragraphs: Paragraphs, title: str | None = None) -> Paragraphs:
    """Apply every paragraph-level chrome rule once, in order."""
    paragraphs = truncate_at_comment_form(paragraphs)
    paragraphs = remove_profile_blocks(paragraphs)
    paragraphs = drop_chrome_paragraphs(paragraphs)
    paragraphs = [
        remove_inline_teasers(strip_inline_datelines(strip_byline_prefix(p))) for p in paragraphs
    ]
    paragraphs = [p for p in paragraphs if p]
    paragraphs = drop_byline_under_headline(paragraphs)
    paragraphs = drop_repeated_lead(paragraphs)
    return drop_title(paragraphs, title)


def _clean_once(text: str, title: str | None) -> str:
    return "\n\n".join(strip_boilerplate(split_paragraphs(text), title))


def clean_text(text: str, title: str | None = None, max_passes: int = 8) -> str:
    """Clean scraped article text; the result has paragraphs separated by a blank line.

    The steps are applied until the text stops changing, so that `clean_text` is
    idempotent: removing one piece of chrome can expose another (a byline under a
    headline once the navigation line above it is gone). When `title` is given, copies of
    it at the top are removed (the title lives in the metadata).
    """
    # Mojibake is repaired once: ftfy is the costly step and its output is stable.
    current = _clean_once(fix_mojibake(text), title)
    for _ in range(max_passes):
        following = _clean_once(current, title)
        if following == current:
            break
        current = following
    return current
