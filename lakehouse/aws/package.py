"""``make package``: the artifacts AWS runs, in ``dist/aws/`` (a stable layout the deployment uploads as is).

::

    dist/aws/
      glue/ingest_job.py      the Glue (Spark) ingestion job script      <- ingestion/glue_job.py
      glue/ingestion.zip      the ``ingestion`` package, for --extra-py-files (no ``lakehouse``)
      glue/dbt_job.py         the dbt job script (Glue 5.0, the dbt client)       <- lakehouse/aws/dbt_job.py
      dbt_project.zip         dbt_project.yml, models/, macros/, seeds/, profiles/, tests/dbt/
      incremental_lakehouse-<version>-py3-none-any.whl   the project (the `lakehouse` CLI)
      manifest.json           every file above with its size and SHA-256

Upload the folder to ``<LAKEHOUSE_S3_ROOT>/artifacts/`` keeping the relative paths. Zips are
reproducible (sorted entries, fixed timestamps): the same sources give the same bytes and hashes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from ingestion.aws import AwsSettings
from ingestion.config import PROJECT_DIR

DBT_PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "seeds", "profiles", "tests/dbt")
SKIPPED = {"__pycache__", "target", "logs", "dbt_packages", ".DS_Store"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def files_under(root: Path, parts: Iterable[str]) -> list[tuple[Path, str]]:
    """(file, path in the zip) for every file of ``parts`` under ``root``, skipping build output and caches."""
    found = []
    for part in parts:
        path = root / part
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in candidates:
            rel = file.relative_to(root)
            if SKIPPED.isdisjoint(rel.parts) and not file.name.endswith((".pyc", ".log")):
                found.append((file, rel.as_posix()))
    return sorted(found, key=lambda item: item[1])


def write_zip(target: Path, entries: Iterable[tuple[Path, str]]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for file, name in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zipped.writestr(info, file.read_bytes())
    return target


def build_wheel(project: Path, out: Path) -> Path:
    """``pip wheel --no-deps`` of the project (pip fetches the build backend, setuptools, from the index)."""
    had_build = (project / "build").exists()
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
             "--wheel-dir", scratch, str(project)],
            check=True,
        )  # fmt: skip
        [wheel] = Path(scratch).glob("*.whl")
        target = out / wheel.name
        shutil.move(str(wheel), target)
    if not had_build:
        shutil.rmtree(project / "build", ignore_errors=True)
    return target


def build_package(out: Path, project: Path = PROJECT_DIR, wheel: bool = True) -> list[Path]:
    """Build ``out`` (emptied first) as laid out above; the files written, ``manifest.json`` last."""
    if out.exists():
        shutil.rmtree(out)
    (out / "glue").mkdir(parents=True)
    built = [
        Path(shutil.copyfile(project / "ingestion" / "glue_job.py", out / "glue" / "ingest_job.py")),
        write_zip(out / "glue" / "ingestion.zip", files_under(project, ["ingestion"])),
        Path(shutil.copyfile(project / "lakehouse" / "aws" / "dbt_job.py", out / "glue" / "dbt_job.py")),
        write_zip(out / "dbt_project.zip", files_under(project, DBT_PROJECT_PARTS)),
    ]
    if wheel:
        built.append(build_wheel(project, out))
    manifest = {
        path.relative_to(out).as_posix(): {"bytes": path.stat().st_size, "sha256": sha256(path)} for path in built
    }
    target = out / "manifest.json"
    target.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return [*built, target]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    out = PROJECT_DIR / "dist" / "aws"
    built = build_package(out)
    artifacts = AwsSettings.from_env().uri("artifacts")
    print(f"built {len(built)} file(s) in {out}:")
    for path in built:
        print(f"  {path.relative_to(out).as_posix():52} {path.stat().st_size:>10,} bytes")
    print(f"upload them to {artifacts} keeping the relative paths, e.g.")
    print(f"  aws s3 sync {out.relative_to(PROJECT_DIR)}/ {artifacts}")
    print("(`make deploy` does it for the stack; LAKEHOUSE_S3_ROOT sets the root)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
