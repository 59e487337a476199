"""Checks and copies for articles uploaded through the chat UI.

A file name from a browser is untrusted: only a plain name with an allowed extension is
accepted, so an upload can never be written outside the corpus folder.
"""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

from rag.errors import CorpusError

ALLOWED_EXTENSIONS = (".txt", ".md", ".html")
MAX_NAME_BYTES = 200


def _human_size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.0f} kB"
    return f"{size} bytes"


def validate_upload(filename: str, size: int, *, max_bytes: int) -> str:
    """Return the name under which an uploaded file may be stored in the corpus folder.

    Raises `CorpusError` with the reason when the name is path-like, hidden or has an
    unsupported extension, or when the file is empty or larger than `max_bytes`.
    """
    name = unicodedata.normalize("NFC", filename or "").strip()
    shown = repr(filename)
    if not name:
        raise CorpusError("The uploaded file has no name: give it a name such as article.txt.")
    if any(sep in name for sep in ("/", "\\")):
        raise CorpusError(
            f"{shown} looks like a path: upload a plain file name such as article.txt."
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise CorpusError(f"{shown} contains control characters: rename the file and retry.")
    if name.startswith("."):
        raise CorpusError(f"{shown} is a hidden file name: rename it without the leading dot.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise CorpusError(f"{shown} is too long a name: use at most {MAX_NAME_BYTES} bytes.")
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_EXTENSIONS or Path(name).stem in ("", "."):
        allowed = ", ".join(ALLOWED_EXTENSIONS)
        raise CorpusError(f"{shown} is not a supported article file: upload {allowed} files.")
    if size <= 0:
        raise CorpusError(f"{name} is empty: upload a file with the article's text.")
    if size > max_bytes:
        raise CorpusError(
            f"{name} is {_human_size(size)}, more than the {_human_size(max_bytes)} allowed: "
            "split it or raise NEWSDESK_MAX_UPLOAD_BYTES."
        )
    return name


def _candidates(name: str) -> list[str]:
    stem, suffix = Path(name).stem, Path(name).suffix
    return [name] + [f"{stem}-{i}{suffix}" for i in range(2, 1000)]


def save_upload(
    src: Path, folder: Path, name: str, *, max_bytes: int, avoid: Path | None = None
) -> Path:
    """Copy the uploaded file `src` into `folder` as `name` (validated) and return its path.

    An existing file is never overwritten: when `name` is taken in `folder` (or in `avoid`,
    the corpus folder when `folder` is a staging area) a free `stem-2.ext`, `stem-3.ext`, ...
    is used instead.
    """
    name = validate_upload(name, src.stat().st_size, max_bytes=max_bytes)
    folder = folder.resolve()
    if not folder.is_dir():
        raise CorpusError(f"The folder {folder} does not exist: create it or set NEWSDESK_CORPUS.")
    for candidate in _candidates(name):
        dest = folder / candidate
        if dest.resolve().parent != folder:  # validated names cannot escape; checked anyway
            raise CorpusError(f"{name!r} would be stored outside {folder}.")
        if avoid is not None and (avoid / candidate).exists():
            continue
        try:
            with src.open("rb") as reader, dest.open("xb") as writer:
                shutil.copyfileobj(reader, writer)
        except FileExistsError:
            continue
        return dest
    raise CorpusError(f"Too many files named like {name} in the corpus: rename the upload.")
