"""The only place Spark and Iceberg are configured.

``spark_conf()`` is the single source of truth for every Spark/Iceberg setting. Ingestion builds its
session from it (``build_session``), and dbt's ``local`` target gets the very same dictionary: either
in-process (``lakehouse run`` / ``lakehouse dbt`` create the session first and dbt-spark's
``method: session`` picks it up through ``getOrCreate()``), or, for a bare ``dbt`` command, through
``LAKEHOUSE_SPARK_CONF_JSON`` which ``profiles/profiles.yml`` reads (see ``lakehouse env``).
On AWS Glue, ``glue_spark_conf()`` shares ``SEMANTICS`` with it and swaps the local Hive/Derby catalog
for the Glue Data Catalog and S3 (``build_glue_session``, used by ``ingestion.glue_job``). dbt-glue's
interactive sessions get ``dbt_glue_spark_conf()``: the same, plus the ``glue_catalog`` name dbt-glue
writes Iceberg tables through; the ``glue`` profile reads it from ``LAKEHOUSE_GLUE_SPARK_CONF``
(``glue_conf_argument``), which ``lakehouse env --target glue`` prints and ``lakehouse dbt --target glue``
sets in-process.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingestion.aws import AwsSettings
from ingestion.config import JIT_MODES, ConfigError, Settings

log = logging.getLogger(__name__)

LOG4J2 = Path(__file__).with_name("log4j2.properties")
ICEBERG_JAR = "iceberg-spark-runtime-3.5_2.12-1.10.2.jar"

TABLE_PROPERTIES = "tblproperties ('format-version' = '2', 'write.metadata.delete-after-commit.enabled' = 'true')"
"""Every table the ingestion layer creates: Iceberg v2; metadata files older than the table's metadata log
(100 versions) are deleted at commit, so none is left behind unreferenced (dbt models get the same property
from ``dbt_project.yml``)."""


def iceberg_runtime_jar() -> Path:
    """The Iceberg Spark runtime jar shipped by the pinned PyPI package (no Maven access needed)."""
    try:
        import snowpark_connect_deps_iceberg as jars_pkg
    except ImportError as exc:  # pragma: no cover - dependency is pinned in pyproject
        raise ConfigError("the package snowpark-connect-deps-iceberg==1.0.2 is missing; run `make install`") from exc
    jar = Path(jars_pkg.__file__).parent / "jars" / ICEBERG_JAR
    if not jar.is_file():
        raise ConfigError(f"Iceberg runtime jar not found at {jar}; reinstall with `make install`")
    return jar


SEMANTICS = {
    "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.adaptive.enabled": "true",
}
"""Settings that decide what the code computes: the same on a laptop and on AWS Glue."""

PLANNING = {
    # Prune a partitioned table's scan by the keys of what it joins even when that side is too big to
    # broadcast (Spark's default prunes only through a broadcast): an incremental model's lookup of its
    # new rows' partitions (silver.user_events by event_date) would otherwise read every partition once
    # Spark's size estimate of the new rows (from the whole bronze table) passes the broadcast limit.
    "spark.sql.optimizer.dynamicPartitionPruning.reuseBroadcastOnly": "false",
}
"""Settings that decide how queries are planned, never what they compute: the same on a laptop and on Glue."""


def archive_options(archive: Path | None) -> list[str]:
    """JVM options to start from a class-data-sharing archive, when one exists (``lakehouse.jvm_archive``
    writes it whole, then renames it into place). An archive of another JDK or class path is ignored by
    the JVM, silently: its warnings are switched off, so no command's output changes."""
    if archive is None or not archive.is_file():
        return []
    return [f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]


def spark_conf(settings: Settings) -> dict[str, str]:
    """Every Spark and Iceberg setting the lakehouse uses locally, as one flat dictionary."""
    jar = iceberg_runtime_jar()
    java_opts = " ".join(
        [
            "-Duser.timezone=UTC",
            *JIT_MODES[settings.jit],
            *archive_options(settings.jvm_archive),
            f"-Dlog4j2.configurationFile={LOG4J2}",
            f"-Dlakehouse.logs.dir={settings.logs_dir}",
            f"-Dderby.system.home={settings.home}",
            f"-Dderby.stream.error.file={settings.logs_dir / 'derby.log'}",
        ]
    )
    conf = {
        "spark.master": settings.spark_master,
        "spark.app.name": "lakehouse",
        "spark.driver.memory": settings.driver_memory,
        # The jar must be on the driver class path: spark.jars alone breaks class loading with Hive.
        "spark.driver.extraClassPath": str(jar),
        "spark.executor.extraClassPath": str(jar),
        "spark.driver.extraJavaOptions": java_opts,
        # On a standalone cluster (LAKEHOUSE_SPARK_MASTER=spark://...) executors are JVMs of their own: the
        # jar above must be at the same path on every worker, and the warehouse a path every worker sees.
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        # Iceberg tables in the session catalog, backed by a Hive metastore (embedded Derby locally).
        "spark.sql.catalog.spark_catalog": "org.apache.iceberg.spark.SparkSessionCatalog",
        "spark.sql.catalog.spark_catalog.type": "hive",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(settings.warehouse_dir),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={settings.metastore_dir};create=true"
        ),
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        # Without it Iceberg asks the metastore for HIVE_LOCKS, which embedded Derby does not have.
        "spark.hadoop.iceberg.engine.hive.lock-enabled": "false",
        **SEMANTICS,
        **PLANNING,
        # Laptop-sized execution.
        "spark.sql.shuffle.partitions": "4",
        "spark.default.parallelism": "4",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Many small queries: compiling whole-stage Java code for each costs more than it saves.
        "spark.sql.codegen.wholeStage": "false",
    }
    return conf


ROW_PASS = {"spark.sql.codegen.wholeStage": "true"}
"""Settings for the few queries that touch every row (ingestion's appends): one long query, where compiled
whole-stage code pays for its compilation many times over (measured here: typing 500,000 CSV rows cost
18 s interpreted, 6.5 s compiled)."""


@contextmanager
def row_pass(spark) -> Iterator[None]:
    """Run the block with ``ROW_PASS`` settings, then restore the session's own."""
    saved = {key: spark.conf.get(key, None) for key in ROW_PASS}
    for key, value in ROW_PASS.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def glue_spark_conf(warehouse_uri: str) -> dict[str, str]:
    """The settings of a Spark session inside an AWS Glue 5.0 job: the same semantics as locally, with the
    Glue Data Catalog behind Spark's session catalog (``bronze.x`` and ``meta.ingest_files`` mean the same
    tables as locally) and Iceberg's S3FileIO under ``warehouse_uri``. The Glue runtime ships the jars
    (job parameter ``--datalake-formats iceberg``)."""
    return {
        **SEMANTICS,
        **PLANNING,
        "spark.sql.catalog.spark_catalog": "org.apache.iceberg.spark.SparkSessionCatalog",
        "spark.sql.catalog.spark_catalog.catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
        "spark.sql.catalog.spark_catalog.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        "spark.sql.catalog.spark_catalog.warehouse": warehouse_uri.rstrip("/"),
    }


DBT_GLUE_CATALOG = "glue_catalog"
"""The Iceberg catalog name dbt-glue prefixes the tables it writes with (its ``custom_iceberg_catalog_namespace``
default)."""


def dbt_glue_spark_conf(aws: AwsSettings) -> dict[str, str]:
    """The Spark settings of dbt-glue's Glue 5.0 interactive sessions: ``glue_spark_conf`` (``SEMANTICS``,
    the Glue Data Catalog behind ``spark_catalog``, warehouse ``<root>/warehouse/``), plus the same
    catalog under the name dbt-glue writes through. Two names, one catalog: models' ``schema.table``
    resolve through ``spark_catalog`` as locally, dbt-glue's ``glue_catalog.schema.table`` through the other."""
    conf = glue_spark_conf(aws.uri("warehouse"))
    prefix = "spark.sql.catalog.spark_catalog"
    conf[f"spark.sql.catalog.{DBT_GLUE_CATALOG}"] = "org.apache.iceberg.spark.SparkCatalog"
    for key in [key for key in conf if key.startswith(prefix + ".")]:
        conf[f"spark.sql.catalog.{DBT_GLUE_CATALOG}{key[len(prefix) :]}"] = conf[key]
    conf["spark.sql.warehouse.dir"] = aws.uri("warehouse")
    return conf


def glue_conf_argument(conf: dict[str, str]) -> str:
    """``conf`` as the value of a Glue session's ``--conf`` argument (``k=v --conf k=v ...``), the form of
    dbt-glue's ``conf`` profile field and of ``LAKEHOUSE_GLUE_SPARK_CONF``."""
    for key, value in conf.items():
        if any(char.isspace() for char in key + value):
            raise ConfigError(f"Glue --conf values cannot contain spaces: {key}={value!r}")
    return " --conf ".join(f"{key}={value}" for key, value in sorted(conf.items()))


def parse_glue_conf_argument(text: str) -> dict[str, str]:
    """The inverse of ``glue_conf_argument``."""
    pairs = [part.strip() for part in text.split("--conf")]
    return dict(pair.split("=", 1) for pair in pairs if pair)


def spark_conf_json(settings: Settings) -> str:
    """The conf as JSON, the form ``profiles/profiles.yml`` reads from ``LAKEHOUSE_SPARK_CONF_JSON``."""
    return json.dumps(spark_conf(settings), sort_keys=True)


def build_session(settings: Settings):
    """Create (or return) the process's SparkSession configured for ``settings``.

    A running session for a *different* state directory is stopped first: embedded Derby and the
    warehouse location are fixed when the session starts.
    """
    from pyspark.sql import SparkSession

    settings.ensure_dirs()
    conf = spark_conf(settings)
    active = SparkSession.getActiveSession()
    if active is not None:
        if active.conf.get("spark.sql.warehouse.dir", None) == conf["spark.sql.warehouse.dir"]:
            return active
        log.info("stopping the Spark session of another state directory")
        active.stop()

    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def build_glue_session(warehouse_uri: str):
    """The SparkSession of the Glue ingestion job (``ingestion.glue_job``), from ``glue_spark_conf``."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("lakehouse-ingest")
    for key, value in glue_spark_conf(warehouse_uri).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
