"""Where landing files come from: a local folder or an S3 prefix, behind one small interface.

``ingestion.ingest`` asks its ``Landing`` for the files (``discover``), their identity and text check
(``scan``), whether they changed during the batch (``restat``) and to archive them after the commit
(``archive``). Everything else (headers, typing, the ledger, Spark's read) works on ``LandingFile``:
``abs_path`` is always a local copy the Python checks can open, ``uri`` (when set) is where Spark reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from ingestion.config import Settings
from ingestion.files import Discovery, FileScan, LandingFile, archive_file, discover, scan_file
from ingestion.registry import Source


class Landing(Protocol):
    description: str
    """The landing root as the operator named it (a folder or an ``s3://`` URI)."""

    def exists(self) -> bool: ...

    def discover(self, sources: Iterable[Source], settle_seconds: float = 0.0) -> Discovery: ...

    def scan(self, file: LandingFile, encoding: str) -> FileScan: ...

    def restat(self, file: LandingFile) -> tuple[str, str, int, int] | None: ...

    def archive(self, rel_path: str, digest: str) -> None: ...


class LocalLanding:
    """A landing folder on the local filesystem (``ingestion.files``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    def exists(self) -> bool:
        return self.root.is_dir()

    def discover(self, sources: Iterable[Source], settle_seconds: float = 0.0) -> Discovery:
        return discover(self.root, sources, settle_seconds=settle_seconds)

    def scan(self, file: LandingFile, encoding: str) -> FileScan:
        return scan_file(file.abs_path, encoding)

    def restat(self, file: LandingFile) -> tuple[str, str, int, int] | None:
        try:
            stat = file.abs_path.stat()
        except OSError:
            return None
        return (file.source, file.rel_path, stat.st_size, int(stat.st_mtime * 1000))

    def archive(self, rel_path: str, digest: str) -> None:
        archive_file(self.root, rel_path, digest)


def open_landing(settings: Settings) -> Landing:
    """The landing of ``settings``: its ``s3://`` root read through boto3 into ``settings.landing``, else the folder."""
    if settings.landing_uri:
        from ingestion.landing_s3 import S3Landing

        return S3Landing(settings.landing_uri, cache=settings.landing)
    return LocalLanding(settings.landing)
