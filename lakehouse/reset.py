"""``lakehouse reset``: delete a home's state, keeping its lock file, after moving archived files back
into the landing zone."""

from __future__ import annotations

import shutil

from ingestion.config import Settings
from ingestion.files import Restored, archive_root, restore_archived
from ingestion.registry import SOURCES
from lakehouse.errors import OK
from lakehouse.lock import state_lock
from lakehouse.output import confirm, echo


def reset(settings: Settings, wait: float, yes: bool) -> int:
    """Ask (unless ``yes``), reset the home (``reset_home``), say what was restored."""
    archive = archive_root(settings.landing)
    if not settings.home.exists() and not archive.is_dir():
        echo(f"nothing to reset: {settings.home} does not exist")
        return OK
    if not yes:
        confirm(
            f"Delete {settings.home} (all tables and ingestion progress) and move archived files from {archive} "
            f"back to {settings.landing}?"
        )
    restored = reset_home(settings, wait)
    echo(f"reset {settings.home}")
    if restored.moved:
        echo(f"restored {len(restored.moved)} archived file(s) into {settings.landing}: the next run ingests them")
    for path, reason in restored.kept:
        echo(f"  kept in the archive: {path}: {reason}")
    return OK


def reset_home(settings: Settings, wait: float) -> Restored:
    """Under the state lock: archived files back into landing first, then everything in the home but
    the lock file. Returns what was restored (and what was kept in the archive, and why)."""
    with state_lock(settings.lock_file, "reset", wait):
        # first the files: a reset interrupted here leaves them in landing, known to the intact
        # ledger, so a run would archive them again rather than ingest them twice
        restored = restore_archived(settings.landing, SOURCES)
        for child in settings.home.iterdir():
            if child.name != settings.lock_file.name:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    return restored
