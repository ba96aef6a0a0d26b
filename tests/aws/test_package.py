"""``make package``: the layout of ``dist/aws/`` and what its zips hold (built into a temporary folder)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lakehouse.aws.package import build_package, sha256

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "aws"
    build_package(out, REPO, wheel=False)  # the wheel (pip wheel) is checked once below, it takes seconds
    return out


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zipped:
        return zipped.namelist()


def test_layout_and_manifest(package):
    files = sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file())
    assert files == ["dbt_project.zip", "glue/dbt_job.py", "glue/ingest_job.py", "glue/ingestion.zip", "manifest.json"]
    manifest = json.loads((package / "manifest.json").read_text())
    assert sorted(manifest) == [f for f in files if f != "manifest.json"]
    assert all(manifest[f]["sha256"] == sha256(package / f) for f in manifest)
    assert (package / "glue/ingest_job.py").read_text() == (REPO / "ingestion/glue_job.py").read_text()
    assert (package / "glue/dbt_job.py").read_text() == (REPO / "lakehouse/aws/dbt_job.py").read_text()


def test_builds_are_reproducible(package, tmp_path):
    again = tmp_path / "aws"
    build_package(again, REPO, wheel=False)
    assert (again / "manifest.json").read_text() == (package / "manifest.json").read_text()


def test_dbt_project_zip_holds_the_project_and_no_build_output(package):
    listed = names(package / "dbt_project.zip")
    assert "dbt_project.yml" in listed and "profiles/profiles.yml" in listed
    assert {name.split("/")[0] for name in listed} == {
        "dbt_project.yml",
        "models",
        "macros",
        "seeds",
        "profiles",
        "tests",
    }
    assert any(n.startswith("models/silver/") for n in listed) and any(n.startswith("tests/dbt/") for n in listed)
    assert any(n.startswith("seeds/") for n in listed)
    assert not [n for n in listed if n.startswith(("target/", "logs/")) or "/target/" in n or n.endswith(".pyc")]


def test_ingestion_zip_imports_ingestion_and_not_lakehouse(package, tmp_path):
    listed = names(package / "glue/ingestion.zip")
    assert "ingestion/glue_job.py" in listed and "ingestion/log4j2.properties" in listed
    assert all(n.startswith("ingestion/") for n in listed) and not [n for n in listed if "__pycache__" in n]
    probe = (
        "import sys, importlib, zipfile\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "mods = [n[:-3].replace('/', '.') for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.endswith('.py')]\n"
        "for m in mods: importlib.import_module(m.removesuffix('.__init__'))\n"
        "import ingestion\n"
        "assert ingestion.__file__.startswith(sys.argv[1]), ingestion.__file__\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'lakehouse'], 'lakehouse was imported'\n"
        "print(len(mods))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(package / "glue/ingestion.zip")],
        cwd=tmp_path,  # not the repository: `ingestion` can only come from the zip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len([n for n in listed if n.endswith(".py")])


def test_the_wheel(tmp_path):
    from lakehouse.aws.package import build_wheel

    had_build = (REPO / "build").exists()
    wheel = build_wheel(REPO, tmp_path)
    listed = names(wheel)
    assert wheel.name.startswith("incremental_lakehouse-") and wheel.name.endswith("-py3-none-any.whl")
    assert "ingestion/glue_job.py" in listed and "lakehouse/cli.py" in listed and "lakehouse/aws/dbt_job.py" in listed
    assert (REPO / "build").exists() == had_build  # pip's in-tree build folder is not left behind
