"""Article metadata: front matter, the `_metadata.toml` sidecar, HTML metadata and the text.

Precedence, field by field:

- title: front matter > sidecar > HTML title > first line when it reads like a headline
  > first sentence (shortened);
- source (outlet): front matter > sidecar > HTML site name > patterns in the raw text
  ("READ MORE FROM THE WASHINGTON EXAMINER", "By India Today Web Desk") > None;
- published: front matter > sidecar > HTML date > dateline in the text > None, recorded
  in `ArticleMeta.date_source` ("front-matter", "sidecar", "html", "dateline");
- url, author: front matter > sidecar > HTML > (author only) a byline in the text.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from index.clean import (
    DATE_LABEL,
    DATE_PATTERN,
    fix_mojibake,
    is_byline,
    is_headline,
    is_name_line,
    remove_profile_blocks,
    split_paragraphs,
)
from rag.errors import CorpusError
from rag.types import ArticleMeta

SIDECAR_NAME = "_metadata.toml"
FIELDS = ("title", "source", "published", "url", "author")
ALIASES: Mapping[str, str] = {
    "headline": "title",
    "outlet": "source",
    "publisher": "source",
    "sitename": "source",
    "site": "source",
    "date": "published",
    "published_at": "published",
    "pubdate": "published",
    "link": "url",
    "byline": "author",
    "authors": "author",
}
MAX_TITLE_CHARS = 120

Fields = dict[str, str]

_FRONT_MATTER = re.compile(
    r"\A\ufeff?[^\S\n]*---[^\S\n]*\n(.*?)\n(?:---|\.\.\.)[^\S\n]*(?:\n|\Z)", re.DOTALL
)

# --- dates -----------------------------------------------------------------------------

_WEEKDAY_PREFIX = re.compile(r"^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+", re.IGNORECASE)
_ORDINAL = re.compile(r"(?<=\d)(?:st|nd|rd|th)\b", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_TEXT_DATE_FORMATS = ("%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y")


def parse_date(value: object) -> str | None:
    """An ISO date (YYYY-MM-DD) from a date, a datetime or a date string; else None.

    Strings may be ISO ("2022-12-31", "2022-12-31T08:30:00Z", "2022/12/31") or written
    out ("December 31, 2022", "Fri, 30 Dec. 2022", "31st December 2022").
    """
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    text = value.strip()
    numeric = _NUMERIC_DATE.match(text)
    if numeric:
        try:
            return date(*(int(part) for part in numeric.groups())).isoformat()
        except ValueError:
            return None
    text = _WEEKDAY_PREFIX.sub("", text)
    text = _ORDINAL.sub("", text).replace(".", " ").replace(",", " ")
    text = " ".join(text.split()).replace("Sept ", "Sep ")
    for fmt in _TEXT_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


_LABELLED_DATE = re.compile(
    rf"(?:^|(?<=[.!?”\"]\s)|(?<=[.!?”\"]))[^\S\n]*(?P<label>{DATE_LABEL})[^\S\n]*[:|-]?[^\S\n]*"
    rf"(?P<date>{DATE_PATTERN})",
    re.IGNORECASE | re.MULTILINE,
)
_BARE_DATE_LINE = re.compile(rf"^[^\S\n]*(?P<date>{DATE_PATTERN})[^\S\n]*$", re.MULTILINE)
# "MOSCOW, 2022-12-30 (Reuters) -", "NEW DELHI, December 31, 2022:".
_PLACE_DATE = re.compile(
    rf"^[^\S\n]*[A-Z][A-Za-z .'’-]{{1,40}},[^\S\n]*(?P<date>{DATE_PATTERN})",
    re.MULTILINE,
)


def find_dateline(text: str) -> str | None:
    """The publication date written in the text, as an ISO date, or None.

    Looks, in order, for a labelled date ("date 2022-12-31", "Published 30 December
    2022", "Posted on: December 31, 2022"; "Updated ..." only when nothing else is
    found), a line holding only a date, and a place dateline ("MOSCOW, 2022-12-30").
    Dates inside forum profile blocks ("Joined" / "Oct 15, 2017") are not datelines.
    """
    text = "\n".join(remove_profile_blocks(split_paragraphs(text)))
    labelled = list(_LABELLED_DATE.finditer(text))
    for want_updated in (False, True):
        for match in labelled:
            if ("updated" in match.group("label").lower()) == want_updated:
                found = parse_date(match.group("date"))
                if found:
                    return found
    for pattern in (_BARE_DATE_LINE, _PLACE_DATE):
        for match in pattern.finditer(text):
            found = parse_date(match.group("date"))
            if found:
                return found
    return None


# --- front matter and sidecar ------------------------------------------------------------


def normalise_fields(raw: Mapping[str, Any]) -> Fields:
    """Keep the known fields (and their aliases) as non-empty strings; dates as ISO."""
    fields: Fields = {}
    for key, value in raw.items():
        name = ALIASES.get(str(key).strip().lower(), str(key).strip().lower())
        if name not in FIELDS or name in fields or value is None:
            continue
        if name == "published":
            iso = parse_date(value)
            if iso:
                fields[name] = iso
            continue
        if isinstance(value, list | tuple):
            value = ", ".join(str(item) for item in value if item)
        text = " ".join(str(value).split())
        if text:
            fields[name] = text
    return fields


def _loose_fields(block: str) -> dict[str, Any]:
    """`key: value` lines of a front matter block that is not valid YAML as a whole."""
    import yaml

    found: dict[str, Any] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if not sep or not key.strip().isidentifier():
            continue
        raw = value.strip()
        try:
            parsed = yaml.safe_load(raw)
        except yaml.YAMLError:
            parsed = None
        if not isinstance(parsed, str | int | float | date):
            # An unquoted value with a colon ("title: Xi: the visit") is meant literally.
            if not raw or raw.startswith(("[", "{", '"', "'")):
                continue
            parsed = raw
        found[key.strip()] = parsed
    return found


def split_front_matter(text: str) -> tuple[Fields, str]:
    """Parse a YAML front matter block (between "---" lines) and remove it from the text.

    A block that is not valid YAML is still removed; its well-formed `key: value` lines
    are kept. Text without a front matter block comes back unchanged with no fields.
    """
    import yaml

    normalised = text.replace("\r\n", "\n")
    match = _FRONT_MATTER.match(normalised)
    if match is None:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        data = _loose_fields(match.group(1))
    if not isinstance(data, dict):
        return {}, text
    return normalise_fields(data), normalised[match.end() :]


def read_sidecar(folder: Path) -> dict[str, Fields]:
    """The `_metadata.toml` tables of a corpus folder, by file name (empty when absent)."""
    path = folder / SIDECAR_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CorpusError(
            f"The metadata file {path} cannot be read ({error}): fix it or remove it."
        ) from error
    return {
        str(name): normalise_fields(table)
        for name, table in data.items()
        if isinstance(table, dict)
    }


def sidecar_entry(sidecar: Mapping[str, Mapping[str, str]], rel_path: str) -> Fields:
    """The sidecar fields for a file, looked up by relative path, then by file name."""
    entry = sidecar.get(rel_path) or sidecar.get(PurePosixPath(rel_path).name) or {}
    return dict(entry)


# --- guesses from the text -----------------------------------------------------------------

_NAME = r"[A-Z][\w&'’.-]*"
_DESK_BYLINE = re.compile(
    rf"\bBy\s+(?P<source>{_NAME}(?:\s+{_NAME}){{0,4}}?)\s+"
    r"(?:(?:Web|News|Online|Digital|Editorial)\s+)?(?:Desk|Bureau|Staff|Team|Newsroom)\b"
)
_MORE_FROM = re.compile(
    r"^[^\S\n]*(?:click\s+here\s+to\s+)?(?:read\s+)?more\s+from\s+(?:the\s+)?"
    r"(?P<source>[A-Za-z][\w&'’. -]{1,50}?)[^\S\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_WIRE_DATELINE = re.compile(
    r"^[^\S\n]*[A-Z]{2,}[A-Z .,'’-]*\((?P<source>[A-Z][\w .&-]{1,30})\)[^\S\n]*[-–—]",
    re.MULTILINE,
)
_COPYRIGHT = re.compile(
    r"(?:©|\(c\)|Copyright)\s*(?:\d{4}\s*)?(?P<source>[A-Z][\w&'’ -]{1,40}?)"
    r"\s*(?:\.|,|All rights reserved|$)",
    re.MULTILINE,
)


def _tidy_source(name: str) -> str:
    name = " ".join(name.split()).strip(" .,-")
    return string.capwords(name) if name.isupper() else name


def guess_source(raw_text: str) -> str | None:
    """The outlet named by general patterns of the raw text, or None.

    Patterns: a desk byline ("By India Today Web Desk"), a "READ MORE FROM <outlet>"
    teaser, a wire credit in a dateline ("MOSCOW (Reuters) -"), a copyright line.
    """
    for pattern in (_DESK_BYLINE, _MORE_FROM, _WIRE_DATELINE, _COPYRIGHT):
        match = pattern.search(raw_text)
        if match:
            source = _tidy_source(match.group("source"))
            if source:
                return source
    return None


def shorten(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """Cut `text` at a word boundary to at most `limit` characters, marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
    return cut + "…"


_SENTENCE = re.compile(r".+?[.!?][\"'”’)]*(?=\s+[\"“‘(]?[A-Z0-9]|\s*$)", re.DOTALL)


def first_sentence(paragraph: str) -> str:
    """The first sentence of a paragraph (the whole paragraph if it has no sentence end)."""
    match = _SENTENCE.match(paragraph)
    return (match.group(0) if match else paragraph).strip()


def guess_title(cleaned_text: str) -> str | None:
    """The first paragraph when it reads like a headline, else its first sentence, shortened.

    `cleaned_text` is the article cleaned without a known title, so a headline is still
    at its top.
    """
    first = next(iter(split_paragraphs(cleaned_text)), None)
    if first is None:
        return None
    if is_headline(first) and len(first) <= 200:
        return first
    return shorten(first_sentence(first))


def guess_author(raw_text: str, window: int = 6) -> str | None:
    """The author named in a byline near the top ("By Mike Brest", or a bare name under
    the headline), or None."""
    paragraphs = split_paragraphs(fix_mojibake(raw_text))[:window]
    for index, paragraph in enumerate(paragraphs):
        if is_byline(paragraph):
            return re.sub(r"^(?:[Bb]y|\w+\s+by)\s+", "", paragraph).strip() or None
        if index > 0 and is_name_line(paragraph) and is_headline(paragraphs[index - 1]):
            return paragraph
    return None


# --- putting it together ---------------------------------------------------------------


def build_meta(
    doc_id: str,
    *,
    front_matter: Mapping[str, str],
    sidecar: Mapping[str, str],
    html_meta: Mapping[str, str],
    raw_text: str,
    cleaned_untitled: str,
) -> ArticleMeta:
    """Combine every source of metadata with the precedence in the module docstring.

    `raw_text` is the article text before cleaning (front matter removed);
    `cleaned_untitled` is it cleaned without a title, for the headline guess.
    """
    html = {
        "title": html_meta.get("title", ""),
        "source": html_meta.get("sitename", ""),
        "url": html_meta.get("url", ""),
        "author": html_meta.get("author", ""),
    }

    def pick(name: str) -> str | None:
        for layer in (front_matter, sidecar, html):
            value = layer.get(name)
            if value:
                return value
        return None

    published, date_source = None, None
    for layer_name, value in (
        ("front-matter", front_matter.get("published")),
        ("sidecar", sidecar.get("published")),
        ("html", parse_date(html_meta.get("date", ""))),
        ("dateline", find_dateline(fix_mojibake(raw_text))),
    ):
        if value:
            published, date_source = value, layer_name
            break

    title = pick("title") or guess_title(cleaned_untitled) or doc_id
    return ArticleMeta(
        doc_id=doc_id,
        title=title,
        source=pick("source") or guess_source(raw_text),
        published=published,
        date_source=date_source,
        url=pick("url"),
        author=pick("author") or guess_author(raw_text),
    )
