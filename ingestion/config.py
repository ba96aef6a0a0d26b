"""The one place for configuration.

A :class:`Settings` object is built once (from CLI flags with environment fallbacks) and passed
explicitly to everything that needs it. Nothing reads environment variables at import time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The dbt project (``dbt_project.yml``) sits at the repository root, beside this package."""

PROFILES_DIR = PROJECT_DIR / "profiles"

SHARED_DATASETS = PROJECT_DIR.parent / "shared" / "datasets"
"""Real public data from the original jobs, beside the checkout when present (never copied in)."""

DEFAULT_HOME = ".lakehouse"
DEFAULT_LANDING = "data/landing"
DEFAULT_SNAPSHOT_RETENTION = "7d"

JIT_MODES = {
    "full": [],
    # C1 alone makes the JVM size its code cache as for one compiler (48 MB), which a long session fills
    # ("CodeCache is full. Compiler has been disabled."): keep the tiered default's 240 MB.
    "quick": ["-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=240m"],
}
"""``LAKEHOUSE_JIT``: the local driver JVM's compilers. ``full`` (default) is the JVM's own tiered
compilation, best for big batches; ``quick`` stops at the first tier (C1), which saves about 40% of the
CPU of a short run (JVM start, small batches, dbt's many small queries) and makes big batches slower
(BENCHMARKS.md, "The JVM's start and compilers"). The test suite runs with ``quick``."""


class ConfigError(Exception):
    """Bad usage or configuration: the CLI turns it into a clear message and exit code 2."""


@dataclass(frozen=True)
class Settings:
    """Where state and input live, and how Spark runs."""

    home: Path
    landing: Path
    spark_master: str = "local[2]"
    driver_memory: str = "2g"
    dbt_target: str = "local"
    settle_seconds: float = 0.0
    """A file modified less than this many seconds ago is left for the next run (still being written)."""
    landing_uri: str | None = None
    """An ``s3://bucket/prefix/`` landing root (``ingestion.landing_s3``); ``landing`` is then the local folder
    its new objects are downloaded to for the run (``<home>/landing-cache``)."""
    snapshot_retention: dt.timedelta = dt.timedelta(days=7)
    """``lakehouse maintain`` expires table snapshots older than this (time travel stays possible inside it)."""
    jit: str = "full"
    """The local driver JVM's compilers, a key of :data:`JIT_MODES` (``LAKEHOUSE_JIT``)."""
    jvm_archive: Path | None = None
    """A class-data-sharing archive the local driver JVM starts from when the file exists
    (``LAKEHOUSE_JVM_ARCHIVE``; ``make jvm-archive`` writes one, see ``lakehouse.jvm_archive``)."""

    # --- state layout under $LAKEHOUSE_HOME -------------------------------------------------
    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.home / "metastore_db"

    @property
    def runs_dir(self) -> Path:
        """Run reports (one JSON file per run)."""
        return self.home / "runs"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def dbt_target_dir(self) -> Path:
        return self.home / "dbt" / "target"

    @property
    def dbt_log_dir(self) -> Path:
        return self.home / "dbt" / "logs"

    @property
    def docs_dir(self) -> Path:
        """The lineage site ``lakehouse docs`` writes (one self-contained folder)."""
        return self.home / "docs"

    @property
    def lock_file(self) -> Path:
        return self.home / "lakehouse.lock"

    def ensure_dirs(self) -> None:
        for path in (self.home, self.warehouse_dir, self.runs_dir, self.logs_dir):
            path.mkdir(parents=True, exist_ok=True)


def load_settings(
    home: str | os.PathLike[str] | None = None,
    landing: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings from explicit values, falling back to environment variables, then defaults.

    ``LAKEHOUSE_HOME`` (default ``./.lakehouse``), ``LAKEHOUSE_LANDING`` (default ``./data/landing``; an
    ``s3://bucket/prefix/`` landing is read through boto3, see ``ingestion.landing_s3``),
    ``LAKEHOUSE_SPARK_MASTER`` (default ``local[2]``), ``LAKEHOUSE_DRIVER_MEMORY`` (default ``2g``),
    ``LAKEHOUSE_TARGET`` (default ``local``), ``LAKEHOUSE_SETTLE_SECONDS`` (default ``0``: writers
    upload under a temporary name and rename; set it when they write final names in place),
    ``LAKEHOUSE_SNAPSHOT_RETENTION`` (default ``7d``: how long ``lakehouse maintain`` keeps snapshots),
    ``LAKEHOUSE_JIT`` (default ``full``; ``quick`` for short runs, see :data:`JIT_MODES`),
    ``LAKEHOUSE_JVM_ARCHIVE`` (default none: a class-data-sharing archive for a faster JVM start).
    """
    env = os.environ if env is None else env
    home_path = Path(home or env.get("LAKEHOUSE_HOME") or DEFAULT_HOME).expanduser().resolve()
    landing_text = str(landing or env.get("LAKEHOUSE_LANDING") or DEFAULT_LANDING)
    landing_uri = landing_text if landing_text.startswith("s3://") else None
    if landing_uri and not all(landing_uri[len("s3://") :].rstrip("/").partition("/")[::2]):
        raise ConfigError(f"an S3 landing is a folder in a bucket, s3://bucket/prefix/landing/, not {landing_uri!r}")
    landing_path = home_path / "landing-cache" if landing_uri else Path(landing_text).expanduser().resolve()
    if home_path.exists() and not home_path.is_dir():
        raise ConfigError(f"LAKEHOUSE_HOME {home_path} exists and is not a directory")
    if landing_path.exists() and not landing_path.is_dir():
        raise ConfigError(f"landing {landing_path} exists and is not a directory")
    jit = env.get("LAKEHOUSE_JIT") or "full"
    if jit not in JIT_MODES:
        raise ConfigError(f"LAKEHOUSE_JIT must be one of {', '.join(JIT_MODES)}, got {jit!r}")
    return Settings(
        home=home_path,
        landing=landing_path,
        spark_master=env.get("LAKEHOUSE_SPARK_MASTER", "local[2]"),
        driver_memory=env.get("LAKEHOUSE_DRIVER_MEMORY", "2g"),
        dbt_target=env.get("LAKEHOUSE_TARGET", "local"),
        settle_seconds=_seconds(env.get("LAKEHOUSE_SETTLE_SECONDS", "0"), "LAKEHOUSE_SETTLE_SECONDS"),
        landing_uri=landing_uri,
        snapshot_retention=parse_duration(
            env.get("LAKEHOUSE_SNAPSHOT_RETENTION", DEFAULT_SNAPSHOT_RETENTION), "LAKEHOUSE_SNAPSHOT_RETENTION"
        ),
        jit=jit,
        jvm_archive=Path(archive).expanduser().resolve() if (archive := env.get("LAKEHOUSE_JVM_ARCHIVE")) else None,
    )


def _seconds(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {text!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {text!r}")
    return value


DURATION = re.compile(r"^\s*(?P<amount>\d+)\s*(?P<unit>[smhdw])\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, name: str) -> dt.timedelta:
    """A duration written as a whole number and one unit: ``45s``, ``30m``, ``12h``, ``7d``, ``2w``."""
    found = DURATION.match(text or "")
    if not found:
        raise ConfigError(
            f"{name} must be a duration: a whole number and a unit, s (seconds), m (minutes), h (hours), "
            f"d (days) or w (weeks), e.g. 7d, 12h, 30m; got {text!r}"
        )
    return dt.timedelta(**{UNITS[found["unit"]]: int(found["amount"])})
