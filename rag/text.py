"""Pure text helpers shared by retrieval, citation checking and extractive answers."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

# Written here rather than taken from nltk's Punkt: callers need character spans into the
# original text, and this needs no data files.
_SENTENCE_END = re.compile(r"""[.!?]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])""")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sen rep gov gen col lt st jr sr "
    "inc ltd co corp vs etc no u.s u.k u.n e.g i.e "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours out over own same she should so some such than that the their
    theirs them then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours also
    said says say told according s t many much""".split()
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, whitespace trimmed; spans never overlap."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if _ends_with_abbreviation(text[start:end]):
            continue
        _append_trimmed(text, start, end, spans)
        start = end
    _append_trimmed(text, start, len(text), spans)
    return _split_on_blank_lines(text, spans)


def _ends_with_abbreviation(piece: str) -> bool:
    words = piece.rstrip(".!?\"'”’)]").split()
    if not words:
        return False
    last = words[-1].lower().strip("(\"'“‘")
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _split_on_blank_lines(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Paragraph breaks always end a sentence (headlines and captions have no full stop)."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        cursor = start
        for match in re.finditer(r"\n\s*\n|\n(?=[A-Z“\"])", text[start:end]):
            _append_trimmed(text, cursor, start + match.start(), out)
            cursor = start + match.end()
        _append_trimmed(text, cursor, end, out)
    return out


def sentences(text: str) -> list[str]:
    """The sentences of `text`."""
    return [text[s:e] for s, e in sentence_spans(text)]


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import Stemmer

    return Stemmer.Stemmer("english")


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words of `text` without stopwords (numbers kept)."""
    words = [w.lower().replace("’", "'").split("'")[0] for w in _WORD.findall(text)]
    words = [w for w in words if w and w not in STOPWORDS]
    return list(_stemmer().stemWords(words))  # type: ignore[attr-defined]


def numbers_in(text: str) -> set[str]:
    """Numbers written in `text`, normalised (commas dropped)."""
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def normalise_space(text: str) -> str:
    """Collapse runs of whitespace into one space."""
    return " ".join(text.split())


def shown_path(path: Path | str, setting: str) -> str:
    """`path` as a user may see it: relative to the working folder, else its last part and
    the setting that names it (no absolute paths in messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return f"…/{Path(path).name} (set by {setting})"
