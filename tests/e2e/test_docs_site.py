"""The lineage site: `lakehouse docs --serve` in its own process, its manifest held to "every model,
source and column described", and the served page driven in a real headless Chromium.

Which home: by default a fresh one with nothing built (no JVM starts: the site has lineage and
descriptions, an empty catalog). `make dbt-test` runs this file again with ``LAKEHOUSE_DOCS_HOME`` set
to its demo home, where all five domains are built: then the site has the catalog (column types),
every column of every built table and view must be documented, and `lakehouse dbt source freshness`
runs on it. The browser test skips when /usr/bin/chromium (Debian's `chromium`, installed by `make
browser`) or playwright is missing; its screenshot is kept under test-artifacts/.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestion.registry import LINEAGE_COLUMNS, SOURCES
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.e2e

HOME_ENV = "LAKEHOUSE_DOCS_HOME"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# gold.account_datamart reads six models (its SQL's refs) and, through them, five bronze tables of the
# payments datamart (adjustments feed gold.adjustments only); the payments dashboard reads it.
DATAMART_INPUTS = {
    "accounts",
    "account_metadata",
    "account_risk",
    "queues",
    "settlement_transactions",
    "int_datamart__touched_accounts",
}
DATAMART_SOURCES = {
    "datamart.account",
    "datamart.account_metadata",
    "datamart.account_risk",
    "datamart.queue",
    "datamart.settlement_transaction",
}
DATAMART_CONSUMER = "Payments operations dashboard"


@dataclass
class Served:
    home: Path
    site: Path
    url: str
    lines: list[str]
    built: bool
    process: subprocess.Popen
    output: queue.Queue
    errors: queue.Queue


def read_lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


def drain(lines: queue.Queue) -> list[str]:
    """The lines of a stream whose process has ended."""
    rest = []
    while (line := lines.get(timeout=30)) is not None:
        rest.append(line)
    return rest


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`lakehouse docs --serve --port 0` running, once its "serving ... at URL" line is out: into the
    default folder ($LAKEHOUSE_HOME/docs) on a fresh home, with `--output` on a built one."""
    root = tmp_path_factory.mktemp("docs")
    built_home = os.environ.get(HOME_ENV)
    home = Path(built_home).resolve() if built_home else root / "home"
    site = root / "site" if built_home else home / "docs"
    output = ["--output", str(site)] if built_home else []
    env = {**os.environ, "LAKEHOUSE_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "docs", *output, "--serve", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    errors: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
    threading.Thread(target=read_lines, args=(process.stderr, errors), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 900
    try:
        while not (seen and seen[-1].startswith("serving ")):
            line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
            if line is None:
                pytest.fail(f"lakehouse docs ended (exit {process.wait()}): {seen} {drain(errors)}")
            seen.append(line)
        url = seen[-1].split(" at ", 1)[1].split()[0]
        yield Served(home, site, url, seen, bool(built_home), process, lines, errors)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def manifest(served: Served) -> dict:
    return json.loads((served.site / "manifest.json").read_text())


def catalog(served: Served) -> dict:
    return json.loads((served.site / "catalog.json").read_text())


def test_docs_says_whether_the_catalog_has_column_types(served):
    """Column types come from the metastore: without a built warehouse the catalog is empty, and said so."""
    text = "\n".join(served.lines)
    assert f"docs: {served.site / 'index.html'} (" in text
    if served.built:
        assert "catalog: column types and statistics for " in text
        assert catalog(served)["nodes"]["model.lakehouse.account_datamart"]["columns"]["risk_score"]["type"] == (
            "decimal(9,4)"
        )
    else:
        assert f"note: nothing is built yet in {served.home}" in text
        assert catalog(served)["nodes"] == {} and catalog(served)["sources"] == {}
        assert not (served.home / "metastore_db").exists()  # no Spark was started for it


def test_site_is_one_page_with_its_data_inlined(served):
    page = (served.site / "index.html").read_text()
    invocation = manifest(served)["metadata"]["invocation_id"]
    assert invocation in page  # the manifest is in the page, not fetched beside it
    assert "MANIFEST.JSON INLINE DATA" not in page and "CATALOG.JSON INLINE DATA" not in page
    assert manifest(served)["metadata"]["send_anonymous_usage_stats"] is False  # the page loads no tracker
    assert sorted(p.name for p in served.site.iterdir()) == ["catalog.json", "index.html", "manifest.json"]


def test_every_model_seed_source_and_column_is_described(served):
    data = manifest(served)
    documented = [n for n in data["nodes"].values() if n["resource_type"] in ("model", "seed", "snapshot")]
    documented += list(data["sources"].values()) + list(data["exposures"].values())
    undescribed = [n["unique_id"] for n in documented if not n.get("description", "").strip()]
    undescribed += [
        f"{n['unique_id']}.{column}"
        for n in documented
        for column, spec in (n.get("columns") or {}).items()
        if not spec.get("description", "").strip()
    ]
    assert undescribed == []
    models = [n for n in documented if n["resource_type"] == "model"]
    assert len(models) >= 40 and all(n["columns"] for n in models)  # every model lists its columns


def test_source_columns_are_the_bronze_columns(served):
    """A bronze table holds its registry columns plus the lineage columns: the source lists all of them."""
    sources = {n["identifier"]: n for n in manifest(served)["sources"].values()}
    lineage = [name for name, _, _ in LINEAGE_COLUMNS]
    for source in SOURCES:
        assert source.name in sources, f"bronze.{source.name} is not a dbt source"
        expected = [c.name.lower() for c in source.columns] + lineage
        assert [c.lower() for c in sources[source.name]["columns"]] == expected, source.name
    assert set(sources) == {s.name for s in SOURCES} | {"quarantine"}


def test_sources_have_freshness_on_the_ingestion_time(served):
    checked = []
    for node in manifest(served)["sources"].values():
        freshness = node.get("freshness") or {}
        if node["identifier"] == "quarantine":  # an old newest quarantined row is good news
            assert not (freshness.get("warn_after") or {}).get("count")
            continue
        assert node["loaded_at_field"] == "_ingested_at", node["unique_id"]
        assert freshness["warn_after"]["count"] and freshness["warn_after"]["period"] == "day", node["unique_id"]
        checked.append(node["identifier"])
    assert sorted(checked) == sorted(s.name for s in SOURCES)


def test_every_gold_model_has_a_consumer(served):
    data = manifest(served)
    gold = {uid for uid, n in data["nodes"].items() if n["resource_type"] == "model" and n["fqn"][1] == "gold"}
    consumed = set()
    for exposure in data["exposures"].values():
        parents = set(exposure["depends_on"]["nodes"])
        assert parents and parents <= gold, f"{exposure['name']} must read gold models only: {parents - gold}"
        assert exposure["owner"]["name"] and exposure["owner"]["email"] and exposure["url"], exposure["name"]
        assert exposure["type"] in ("dashboard", "analysis", "ml", "notebook", "application")
        consumed |= parents
    assert len(gold) == 12 and consumed == gold, sorted(gold - consumed)


def test_every_column_of_the_built_tables_is_documented(served):
    """Against the catalog (what the warehouse holds): no column a table or view has is left out of
    its YAML, and no YAML column is missing from the table."""
    if not served.built:
        pytest.skip(f"needs a built warehouse: `make dbt-test` runs this with {HOME_ENV} (its demo home)")
    data, built = manifest(served), catalog(served)
    assert len(built["nodes"]) >= 40 and len(built["sources"]) == len(SOURCES) + 1
    problems = []
    for kind in ("nodes", "sources"):
        for uid, table in built[kind].items():
            declared = {name.lower(): spec for name, spec in data[kind][uid]["columns"].items()}
            actual = {name.lower() for name in table["columns"]}
            problems += [f"{uid}.{c}: not in the YAML" for c in sorted(actual - set(declared))]
            problems += [f"{uid}.{c}: not in the table" for c in sorted(set(declared) - actual)]
    assert problems == []


def test_source_freshness_runs_on_the_local_target(served):
    if not served.built:
        pytest.skip(f"needs a built warehouse: `make dbt-test` runs this with {HOME_ENV} (its demo home)")
    result = run_cli("dbt", "source", "freshness", home=served.home)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = [line for line in result.stdout.splitlines() if " freshness of " in line and " START " not in line]
    assert len(checked) == len(SOURCES), result.stdout  # every source but the quarantine


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (Debian package chromium; `make browser` installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,  # a new, empty user data dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()


def graph_labels(page) -> dict[str, str]:
    """The lineage graph's nodes (unique id -> label) from the cytoscape instance on its #cy element
    (the labels are drawn on a canvas)."""
    return page.evaluate(
        "() => Object.fromEntries(document.getElementById('cy')._cyreg.cy.nodes()"
        ".filter(n => n.visible()).map(n => [n.id(), n.data('label')]))"
    )


def test_lineage_of_account_datamart_in_chromium(served, browser):
    page = browser.new_page()
    problems, requests = [], []
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{served.url}#!/model/model.lakehouse.account_datamart")
    page.wait_for_selector("h1 >> text=account_datamart", timeout=60_000)  # the model's page
    page.click("[title='View Lineage Graph']")
    page.wait_for_function("() => document.getElementById('cy')?._cyreg?.cy?.nodes().length > 0")
    nearby = graph_labels(page)  # the launcher: one step up and down
    parents = {label for uid, label in nearby.items() if uid.startswith("model.") and label != "account_datamart"}
    assert parents == DATAMART_INPUTS
    assert DATAMART_CONSUMER in nearby.values()

    page.click("[ng-click='showExpanded()']")  # the full lineage: +account_datamart+
    page.wait_for_function("() => document.getElementById('cy')._cyreg.cy.nodes('[id ^= \"source.\"]').length > 0")
    full = graph_labels(page)
    assert {label for uid, label in full.items() if uid.startswith("source.")} == DATAMART_SOURCES
    assert DATAMART_INPUTS | {"account_datamart", DATAMART_CONSUMER} <= set(full.values())
    page.mouse.move(700, 450)  # no tooltip over the graph
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"lineage-account_datamart{'-built' if served.built else ''}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000

    assert problems == []
    assert {url.split("#")[0] for url in requests} == {served.url}  # one self-contained page, nothing else
    page.close()


def test_site_opens_from_disk(served, browser):
    page = browser.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.goto(f"{(served.site / 'index.html').as_uri()}#!/source/source.lakehouse.datamart.account")
    page.wait_for_selector("h1 >> text=account", timeout=60_000)
    page.wait_for_selector("text=_ingested_at")  # a lineage column, in the source's column list
    assert problems == []
    page.close()


def test_port_without_serve_is_a_usage_error(tmp_path):
    result = run_cli("docs", "--port", "8081", home=tmp_path / "home")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --port goes with --serve: `lakehouse docs --serve --port 8081`"


def test_ctrl_c_stops_the_server(served):
    """Last in this file: the server stops cleanly on Ctrl-C (exit 0), and the site stays."""
    served.process.send_signal(signal.SIGINT)
    code = served.process.wait(timeout=60)
    rest, errors = drain(served.output), drain(served.errors)
    assert code == 0, errors
    assert rest == ["stopped"] and errors == []
    assert (served.site / "index.html").is_file()
