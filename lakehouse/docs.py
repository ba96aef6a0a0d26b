"""``lakehouse docs``: the lineage site, one self-contained folder.

dbt-core's ``dbt docs generate --static`` (1.7+) writes ``static_index.html``: the dbt docs single-page
app with ``manifest.json`` and ``catalog.json`` inlined, so it needs no server and loads nothing else (no
fonts or scripts from the network; usage tracking stays off because the project sets
``send_anonymous_usage_stats: false``, which the manifest records). The site folder holds it as
``index.html``, plus the two JSON artifacts for tools that read them. Open it from disk, serve it
(``--serve``), or copy the folder to any static host (S3).

The manifest (models, sources, exposures, descriptions, lineage) needs only the project. The catalog
(column types, table statistics) is read from the metastore, so it needs the built warehouse and the
lakehouse's Spark session (under the state lock, like any command that opens the metastore). When
nothing is built yet, the site is generated without starting Spark, with an empty catalog
(``--empty-catalog --no-compile``: no compiled SQL either), and the command says so.
"""

from __future__ import annotations

import functools
import json
import shutil
import signal
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ingestion.config import ConfigError, Settings
from lakehouse.errors import OK, RunFailed

SITE_FILES = ("index.html", "manifest.json", "catalog.json")
"""What the site folder holds: the page (everything inlined) and the artifacts it was made from."""

DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Site:
    folder: Path
    models: int
    sources: int
    exposures: int
    relations: int
    """Models (but ephemeral ones), seeds, snapshots and sources: what a catalog can describe."""
    cataloged: int
    """Those the catalog describes (column types, statistics): the ones built in the warehouse."""
    built: bool
    """The warehouse had tables: the catalog was read through Spark (else it is empty)."""
    catalog_errors: tuple[str, ...] = ()

    @property
    def index(self) -> Path:
        return self.folder / "index.html"


def generate_args(built: bool) -> list[str]:
    """``dbt docs generate``'s arguments: a static page; without a built warehouse, nothing that
    needs Spark (no catalog queries, no compilation: models may introspect their relations; dbt
    then inlines the manifest a ``dbt parse`` wrote before)."""
    args = ["docs", "generate", "--static"]
    return args if built else [*args, "--empty-catalog", "--no-compile"]


def build_site(settings: Settings, output: Path | None, wait: float, verbose: bool, serving: bool = False) -> Site:
    """Generate the dbt docs of this home (its catalog when its warehouse is built) and write the
    site folder (``output``, default ``$LAKEHOUSE_HOME/docs``). ``serving``: the process goes on after
    it (``--serve``), so a JVM it started is stopped before the state lock is released: embedded Derby
    lets one JVM open the metastore, and the next command's must."""
    from lakehouse.dbt_runner import LOCAL, run_dbt, target_of
    from lakehouse.guards import holding_state, spark_for
    from lakehouse.repair import table_metadata_dirs

    if target_of(settings) != LOCAL:
        raise ConfigError(
            f"`lakehouse docs` documents the local lakehouse, not the {settings.dbt_target!r} target "
            "(LAKEHOUSE_TARGET); for an AWS target: `lakehouse dbt docs generate --static --target ...`"
        )
    folder = (output or settings.docs_dir).expanduser().resolve()
    target = settings.dbt_target_dir
    page = target / "static_index.html"
    settings.ensure_dirs()
    with holding_state(settings, "docs", wait):
        page.unlink(missing_ok=True)  # never a previous run's page
        built = bool(table_metadata_dirs(settings.warehouse_dir))
        if built:
            spark = spark_for(settings)
            outcome = run_dbt(spark, settings, generate_args(built), quiet=not verbose)
            if serving:
                stop_jvm(spark)
        else:  # without compiling, generate inlines the manifest that `parse` writes
            outcome = run_dbt(None, settings, ["parse"], quiet=not verbose)
            if not outcome.failed:
                outcome = run_dbt(None, settings, generate_args(built), quiet=not verbose)
    if outcome.failed or not page.is_file():
        raise RunFailed(f"dbt docs generate failed: {first_line(outcome.error)} (see {settings.dbt_log_dir})")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(without_broken_requests(page.read_text(encoding="utf-8")), encoding="utf-8")
    for name in SITE_FILES[1:]:
        shutil.copyfile(target / name, folder / name)
    return describe(folder, built)


BROKEN_REQUESTS = (
    # an unprocessed webpack placeholder in <head>: a request for a file named "${require(...)}"
    (
        """<link rel="shortcut icon" href="${require('./assets/favicons/favicon.ico')}" />""",
        """<link rel="shortcut icon" href="data:," />""",
    ),
    # the file tree's folder icons: the browser fetches the raw "{{ getIcon(...) }}" as a URL before
    # Angular fills it in; ng-attr-href sets the (SVG 2) href only once it is interpolated
    ("""<use xlink:href="{{ getIcon(""", """<use ng-attr-href="{{ getIcon("""),
)
"""Two template slips of the dbt docs page (dbt-core 1.10's bundled dbt-docs) that make the browser
request files that do not exist (a 404 error in the console, on a disk or S3 host alike); replaced
in the site's copy. A replacement that no longer matches is skipped (the browser test then sees
whatever dbt ships)."""


def without_broken_requests(html: str) -> str:
    for broken, fixed in BROKEN_REQUESTS:
        html = html.replace(broken, fixed)
    return html


def stop_jvm(spark) -> None:
    """Stop Spark and its JVM (which closes the metastore): the JVM exits when the pipe to its
    standard input closes (pyspark's gateway watches it for a parent that died)."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    spark.stop()
    if gateway is None:
        return
    gateway.shutdown()
    process = getattr(gateway, "proc", None)
    if process is not None:
        process.stdin.close()
        process.wait(timeout=60)
    SparkContext._gateway = None
    SparkContext._jvm = None
    signal.signal(signal.SIGINT, signal.default_int_handler)  # pyspark's handler cancels jobs of the dead JVM


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else "no static_index.html was written"


def describe(folder: Path, built: bool) -> Site:
    """What the site in ``folder`` documents, from its manifest and catalog."""
    manifest = json.loads((folder / "manifest.json").read_text())
    catalog = json.loads((folder / "catalog.json").read_text())
    nodes = manifest["nodes"].values()
    relations = [
        n["unique_id"]
        for n in nodes
        if n["resource_type"] in ("model", "seed", "snapshot") and n["config"].get("materialized") != "ephemeral"
    ] + list(manifest["sources"])
    cataloged = set(catalog["nodes"]) | set(catalog["sources"])
    return Site(
        folder=folder,
        models=sum(1 for n in nodes if n["resource_type"] == "model"),
        sources=len(manifest["sources"]),
        exposures=len(manifest["exposures"]),
        relations=len(relations),
        cataloged=sum(1 for r in relations if r in cataloged),
        built=built,
        catalog_errors=tuple(catalog.get("errors") or ()),
    )


def site_summary(site: Site, home: Path) -> list[str]:
    """The lines ``lakehouse docs`` prints about the site it wrote."""
    lines = [
        f"docs: {site.index} ({site.models} models, {site.sources} sources, {site.exposures} exposures)",
    ]
    if site.built:
        lines.append(
            f"catalog: column types and statistics for {site.cataloged} of {site.relations} tables and views "
            "(the rest are not built yet)"
            if site.cataloged < site.relations
            else f"catalog: column types and statistics for all {site.relations} tables and views"
        )
    else:
        lines.append(
            f"note: nothing is built yet in {home}: the site shows lineage and descriptions, without column "
            "types, statistics or compiled SQL; run `lakehouse run`, then `lakehouse docs` again"
        )
    lines += [f"warning: catalog: {first_line(text)}" for text in site.catalog_errors]
    lines.append("open it from disk, host the folder on any static host (S3), or: lakehouse docs --serve")
    return lines


class QuietHandler(SimpleHTTPRequestHandler):
    """Files of one folder, without a log line per request."""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's signature
        pass


def serve_site(folder: Path, port: int, announce) -> int:
    """Serve ``folder`` on http://127.0.0.1:``port`` (0: any free port) until Ctrl-C; ``announce``
    gets the line saying where."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise RunFailed(f"cannot serve on 127.0.0.1:{port} ({exc.strerror}); pick another with --port") from None
    with server:
        announce(f"serving {folder} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            announce("stopped")
    return OK
