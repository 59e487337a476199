"""Find and read corpus files: decode text, extract HTML articles, never fail on one file.

Document ids are file stems. When two files share a stem, the one nearest the corpus
root (then the first in path order) keeps the stem and every other one gets its relative
path without the suffix, with "/" replaced by "__" (`sub/stem.txt` -> `sub__stem`); a
suffix is appended only if that is still taken (`stem.md` next to `stem.txt` ->
`stem__md`).
"""

from __future__ import annotations

import codecs
import errno
import os
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from rag.types import Skipped

Format = Literal["txt", "md", "html"]

FORMATS: Mapping[str, Format] = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
}

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Legacy encodings tried when a file is not UTF-8, most common on the web first.
LEGACY_ENCODINGS: tuple[str, ...] = (
    "cp1252",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1257",
    "koi8_r",
    "shift_jis",
    "euc_jp",
    "gb18030",
    "big5",
    "euc_kr",
    "cp1255",
    "cp1256",
    "cp874",
)
CHAOS_TOLERANCE = 0.1
# Above this share of control or replacement characters, decoded "text" is really binary.
MAX_CONTROL_SHARE = 0.05
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


@dataclass(frozen=True)
class RawFile:
    """A corpus file read and decoded, before metadata extraction and cleaning."""

    path: str  # relative posix path inside the corpus folder
    doc_id: str
    fmt: Format
    text: str  # decoded text; for HTML the extracted main text, paragraphs blank-line separated
    html_meta: Mapping[str, str] = field(default_factory=dict)


def is_corpus_file(name: str) -> bool:
    """Whether a file name is an article Newsdesk reads (by suffix; hidden and _ files are not)."""
    return not name.startswith((".", "_")) and PurePosixPath(name).suffix.lower() in FORMATS


def iter_corpus_files(folder: Path) -> list[Path]:
    """Every article file under `folder`, recursively, sorted by relative path.

    Hidden files and folders and files starting with "_" (such as `_metadata.toml`) are
    left out. Directory symlinks are followed once: a folder already visited (a symlink
    loop, or two links to one folder) is not entered again.
    """
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for current, dirs, files in os.walk(folder, followlinks=True):
        try:
            info = os.stat(current)
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(current) / name for name in files if is_corpus_file(name))
    return sorted(found, key=lambda path: relative_path(path, folder))


def relative_path(path: Path, root: Path) -> str:
    """`path` relative to `root` as a posix string (the file name if it is outside `root`)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def assign_doc_ids(paths: Iterable[str]) -> dict[str, str]:
    """Map relative posix paths to unique document ids (see the module docstring)."""
    ordered = sorted(paths, key=lambda p: (p.count("/"), p))
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for rel in ordered:
        pure = PurePosixPath(rel)
        candidates = [
            pure.stem,
            str(pure.with_suffix("")).replace("/", "__"),
            str(pure.with_suffix("")).replace("/", "__") + "__" + pure.suffix.lstrip("."),
        ]
        doc_id = next((c for c in candidates if c not in taken), None)
        counter = 2
        while doc_id is None or doc_id in taken:
            doc_id = f"{candidates[-1]}__{counter}"
            counter += 1
        ids[rel] = doc_id
        taken.add(doc_id)
    return ids


def format_bytes(size: int) -> str:
    """A size in decimal units: 10_000_000 -> "10 MB"."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"


def _read_bytes(path: Path, limit: int) -> bytes:
    """Read at most `limit` bytes of `path`."""
    with open(path, "rb") as handle:
        return handle.read(limit)


def _os_error_reason(error: OSError, path: Path) -> str:
    if isinstance(error, FileNotFoundError):
        if path.is_symlink():
            return "unreadable: broken symlink"
        return "vanished while reading"
    if isinstance(error, PermissionError):
        return "unreadable: permission denied"
    if isinstance(error, IsADirectoryError):
        return "unreadable: is a directory"
    if error.errno == errno.ELOOP:
        return "unreadable: symlink loop"
    detail = (error.strerror or type(error).__name__).lower()
    return f"unreadable: {detail}"


def _bom_codec(data: bytes) -> str | None:
    return next((codec for bom, codec in _BOMS if data.startswith(bom)), None)


def looks_binary(data: bytes) -> bool:
    """NUL bytes without a UTF-16/32 byte order mark mean a binary file."""
    return _bom_codec(data) is None and b"\x00" in data


def _mostly_control(text: str) -> bool:
    if not text:
        return False
    bad = sum(
        1
        for ch in text
        if ch == "\ufffd" or (unicodedata.category(ch)[0] == "C" and ch not in _TEXT_CONTROLS)
    )
    return bad / len(text) > MAX_CONTROL_SHARE


def decode_text(data: bytes) -> str | None:
    """Decode bytes: a BOM's codec, else UTF-8, else charset-normalizer's best guess.

    Returns None when no encoding fits.
    """
    codec = _bom_codec(data)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS)))
    if not matches:
        best = from_bytes(data).best()
        return str(best) if best is not None else None
    # Short texts in single-byte codecs are ambiguous (French "è" is Czech "č" in cp1250):
    # among near-equally clean decodings, the encoding more common on the web wins.
    least = min(match.chaos for match in matches)
    close = [match for match in matches if match.chaos <= least + CHAOS_TOLERANCE]
    chosen = min(close, key=lambda match: _encoding_rank(match.encoding))
    return str(chosen)


def _encoding_rank(encoding: str) -> int:
    try:
        return LEGACY_ENCODINGS.index(encoding)
    except ValueError:
        return len(LEGACY_ENCODINGS)


def extract_html(html: str) -> tuple[str, dict[str, str]]:
    """The main text of an HTML page (paragraphs blank-line separated) and its metadata.

    Metadata keys, when found: title, date (ISO), sitename, url, author.
    """
    import trafilatura

    try:
        document = trafilatura.bare_extraction(
            html, include_comments=False, include_tables=True, with_metadata=True
        )
    except Exception:  # a parser failure on one page must not stop the whole ingest
        return "", {}
    if document is None:
        return "", {}
    values = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    lines = [line.strip() for line in str(values.get("text") or "").splitlines()]
    text = "\n\n".join(line for line in lines if line)
    meta = {
        key: str(values[key]).strip()
        for key in ("title", "date", "sitename", "url", "author")
        if values.get(key) and str(values[key]).strip()
    }
    return text, meta


def _inline_text(children: Sequence[object]) -> str:
    parts: list[str] = []
    for child in children:
        kind = getattr(child, "type", "")
        if kind in ("text", "code_inline"):
            parts.append(str(getattr(child, "content", "")))
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


def markdown_to_text(markdown: str) -> str:
    """Plain text of Markdown: one paragraph per block (headings, paragraphs, list items).

    Emphasis, links and inline code keep their text; images and raw HTML are dropped.
    """
    from markdown_it import MarkdownIt

    paragraphs: list[str] = []
    for token in MarkdownIt("commonmark").parse(markdown):
        if token.type == "inline":
            text = _inline_text(token.children or [])
        elif token.type in ("fence", "code_block"):
            text = token.content.strip()
        else:
            continue
        if text:
            paragraphs.append(text)
    return "\n\n".join(paragraphs)


def read_article_file(
    path: Path, root: Path, max_bytes: int, doc_id: str | None = None
) -> RawFile | Skipped:
    """Read one corpus file; problems come back as `Skipped` with a one-line reason.

    `doc_id` defaults to the file stem (see `assign_doc_ids` for corpus-wide ids).
    """
    rel = relative_path(path, root)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        supported = ", ".join(sorted(FORMATS))
        return Skipped(rel, f"unsupported file type (use one of {supported})")
    limit = f"larger than the {format_bytes(max_bytes)} limit"
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Skipped(rel, f"{limit} ({format_bytes(size)})")
        data = _read_bytes(path, max_bytes + 1)
    except OSError as error:
        return Skipped(rel, _os_error_reason(error, path))
    if len(data) > max_bytes:
        return Skipped(rel, f"{limit} (grew while reading)")
    if not data.strip():
        return Skipped(rel, "empty file")
    if looks_binary(data):
        return Skipped(rel, "binary file")
    text = decode_text(data)
    if text is None:
        return Skipped(rel, "undecodable text")
    if _mostly_control(text):
        return Skipped(rel, "binary file")
    if not text.strip():
        return Skipped(rel, "empty file")
    html_meta: dict[str, str] = {}
    if fmt == "html":
        text, html_meta = extract_html(text)
        if not text.strip():
            return Skipped(rel, "no article text found in the HTML")
    return RawFile(
        path=rel,
        doc_id=doc_id or path.stem,
        fmt=fmt,
        text=text,
        html_meta=html_meta,
    )
