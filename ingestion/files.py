"""Landing files: discovery, identity (SHA-256), encoding checks, file dates and headers.

A file is *complete* when its name is final: writers upload under a temporary name and rename
(``.tmp``, ``.part``, ``.crdownload``, ``_COPYING_`` suffixes and names starting with ``.`` or
``_`` are ignored), and files modified in the last ``settle_seconds`` are left for the next run
(``LAKEHOUSE_SETTLE_SECONDS``). A file that still changes while a batch reads it aborts that batch
(see ``ingestion.ingest``). Symbolic links that resolve outside the landing root are never followed.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gzip
import hashlib
import io
import os
import re
import shutil
import sys
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ingestion.registry import FileDate, Source

TEMPORARY_SUFFIXES = (".tmp", ".part", ".crdownload", "_COPYING_", ".partial")
HEADER_PROBE_BYTES = 1 << 20


@dataclass(frozen=True)
class LandingFile:
    source: str
    rel_path: str
    """POSIX path relative to the landing root: the file's name in lineage and in the ledger."""
    abs_path: Path
    size: int
    mtime_ms: int
    uri: str | None = None
    """Where Spark reads the file when not at ``abs_path``: its ``s3://`` URI on Glue (``ingestion.landing_s3``)."""

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.source, self.rel_path, self.size, self.mtime_ms)


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a landing glob (``*``, ``?``, ``**``) to a regex over POSIX relative paths.

    ``.gz`` compressed copies of a matching file also match.
    """
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("^" + "".join(out) + r"(\.gz)?$")


def is_temporary(name: str) -> bool:
    return name.startswith((".", "_")) or name.endswith(TEMPORARY_SUFFIXES)


def match_source(rel_path: str, sources: Iterable[Source]) -> Source | None:
    for source in sources:
        if glob_regex(source.pattern).match(rel_path):
            return source
    return None


def derive_file_date(rule: FileDate | None, rel_path: str) -> dt.date | None:
    """The business date encoded in ``rel_path``; ``None`` when there is no rule or no match.

    Raises ``ValueError`` when the path matches but is not a real date (``2023_02_30``).
    """
    if rule is None:
        return None
    found = re.search(rule.regex, rel_path)
    if not found:
        return None
    return dt.date(int(found["year"]), int(found["month"]), int(found["day"]))


@dataclass
class Discovery:
    files: list[LandingFile]
    unmatched: list[str]
    """Complete files under the landing root that no source claims."""
    unsettled: list[str]
    """Files modified too recently to be considered complete."""
    outside: list[str]
    """Symlinks resolving outside the landing root (not followed)."""


def discover(
    landing: Path,
    sources: Iterable[Source],
    settle_seconds: float = 0.0,
    now: float | None = None,
) -> Discovery:
    """Walk the landing root and assign each complete file to its source (sorted by path)."""
    sources = tuple(sources)
    now = time.time() if now is None else now
    root = landing.resolve()
    found = Discovery([], [], [], [])
    if not root.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if is_temporary(name):
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root):
                    found.outside.append(rel)
                    continue
            if not path.is_file():
                continue
            source = match_source(rel, sources)
            if source is None:
                found.unmatched.append(rel)
                continue
            stat = path.stat()
            if settle_seconds and now - stat.st_mtime < settle_seconds:
                found.unsettled.append(rel)
                continue
            found.files.append(LandingFile(source.name, rel, path, stat.st_size, int(stat.st_mtime * 1000)))
    found.files.sort(key=lambda f: f.rel_path)
    return found


def archive_root(landing: Path) -> Path:
    """Archived files go beside the landing root: ``<landing>/../archive/``."""
    return landing.resolve().parent / "archive"


def archive_file(landing: Path, rel_path: str, digest: str) -> Path:
    """Move a committed landing file to the archive, keeping its relative path.

    An archived file of the same name with other content (a corrected re-delivery) is kept: the
    newcomer gets its content hash in its name. Same-filesystem moves are atomic (``os.replace``).
    """
    source = landing.resolve() / rel_path
    target = archive_root(landing) / rel_path
    if target.exists() and file_sha256(target) != digest:
        target = target.with_name(f"{target.name}.{digest[:12]}")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError:  # another filesystem: copy then delete
        shutil.move(str(source), str(target))
    return target


RENAMED_IN_ARCHIVE = re.compile(r"^(?P<name>.+)\.(?P<digest>[0-9a-f]{12})$")
"""``archive_file``'s name for a second file archived under a taken name: ``<name>.<sha256[:12]>``."""


@dataclass
class Restored:
    moved: list[str] = field(default_factory=list)
    """Archived files moved back (paths relative to the landing root)."""
    kept: list[tuple[str, str]] = field(default_factory=list)
    """Archived files left where they are (path relative to the archive, why)."""


def restore_archived(landing: Path, sources: Iterable[Source]) -> Restored:
    """Move every archived file back into the landing zone at its relative path (``lakehouse reset``).

    Never overwrites: a landing file already at that path is left alone and the archived one is
    kept (reported). A file archived under a taken name (``x.csv.<digest>``) comes back as
    ``x_<digest>.csv`` so its source still matches it; a file no source would match stays.
    Same-filesystem moves keep the modification time (``os.replace``).
    """
    archive = archive_root(landing)
    restored = Restored()
    if not archive.is_dir():
        return restored
    sources = tuple(sources)
    root = landing.resolve()
    for path in sorted(p for p in archive.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(archive)
        renamed = RENAMED_IN_ARCHIVE.match(rel.name)
        if renamed:
            base = Path(renamed["name"])
            suffixes = "".join(base.suffixes)
            rel = rel.with_name(f"{base.name.removesuffix(suffixes)}_{renamed['digest']}{suffixes}")
        target = root / rel
        if match_source(rel.as_posix(), sources) is None:
            restored.kept.append((path.relative_to(archive).as_posix(), "no source matches it in the landing zone"))
        elif target.exists() or target.is_symlink():
            restored.kept.append((path.relative_to(archive).as_posix(), f"landing already has {rel.as_posix()}"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(path, target)
            except OSError:  # another filesystem: copy then delete
                shutil.move(str(path), str(target))
            restored.moved.append(rel.as_posix())
    for folder in sorted((p for p in archive.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only empty ones
    return restored


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileScan:
    """One pass over a landing file's bytes: its identity and whether its text can be trusted."""

    sha256: str
    problem: str | None = None
    """Why the file cannot be read as text (bad encoding, corrupt gzip), naming the line; else None."""


def scan_file(path: Path, encoding: str = "UTF-8", chunk: int = 1 << 20) -> FileScan:
    """SHA-256 of the bytes as delivered, and a strict decode of the whole text (gunzipped for
    ``.gz``): an invalid byte anywhere is found here, not silently replaced by the CSV reader.

    A plain file is read once for both; a ``.gz`` is hashed as delivered, then decompressed."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        return FileScan(file_sha256(path, chunk), f"unknown encoding {encoding!r} in the registry")
    compressed = path.name.endswith(".gz")
    digest = None if compressed else hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, line, problem = 0, 1, None
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            while True:
                block = handle.read(chunk)
                if digest is not None:
                    digest.update(block)
                try:
                    decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    line += block[: exc.start].count(b"\n")
                    problem = (
                        f"not valid {encoding} text at line {line} (byte {offset + exc.start}): {exc.reason}; "
                        f"re-export the file as {encoding} (a latin-1/Windows-1252 export?)"
                    )
                    break
                if not block:
                    break
                offset += len(block)
                line += block.count(b"\n")
    except (OSError, EOFError, zlib.error) as exc:
        problem = f"corrupt or truncated gzip data: {exc}"
    if digest is None or problem is not None:  # the hash covers the whole file as delivered
        return FileScan(file_sha256(path, chunk), problem)
    return FileScan(digest.hexdigest())


def runaway_quote(path: Path, delimiter: str = ",", quote: str = '"', encoding: str = "UTF-8") -> int | None:
    """For sources whose quoted fields may span lines: the line where a quote opens and never closes
    (the rest of the file would be read as one field), else None."""
    csv.field_size_limit(sys.maxsize)
    with open_text(path, encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar=quote, strict=True)
        start = 1
        while True:
            try:
                next(reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    return start
                # another quoting error: one malformed record, which the CSV reader quarantines
            start = reader.line_num + 1


def open_text(path: Path, encoding: str = "UTF-8") -> io.TextIOBase:
    """Open a landing file as text, transparently gunzipping ``.gz``; strict decoding."""
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    return io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")


class HeaderError(ValueError):
    """The file has no usable header row (empty, binary, undecodable)."""


def read_header(path: Path, delimiter: str = ",", quote: str = '"', encoding: str = "UTF-8") -> list[str]:
    """The header row of a CSV file: names trimmed, a UTF-8 byte-order mark removed."""
    try:
        with open_text(path, encoding) as handle:
            text = handle.read(HEADER_PROBE_BYTES)
    except UnicodeDecodeError as exc:
        raise HeaderError(f"not valid {encoding} text (byte {exc.start}): {exc.reason}") from exc
    except (OSError, EOFError) as exc:
        raise HeaderError(f"cannot read file: {exc}") from exc
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise HeaderError("file is empty (no header row)")
    if "\x00" in text:
        raise HeaderError("file contains NUL bytes: binary data, not CSV text")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quote)
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as exc:
        raise HeaderError(f"cannot parse the header row: {exc}") from exc
    return [h.strip() for h in header]
