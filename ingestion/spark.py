"""The only place Spark and Iceberg are configured.

``spark_conf()`` is the single source of truth for every Spark/Iceberg setting. Ingestion builds its
session from it (``build_session``), and dbt's ``local`` target gets the very same dictionary: either
in-process (``lakehouse run`` / ``lakehouse dbt`` create the session first and dbt-spark's
``method: session`` picks it up through ``getOrCreate()``), or, for a bare ``dbt`` command, through
``LAKEHOUSE_SPARK_CONF_JSON`` which ``profiles/profiles.yml`` reads (see ``lakehouse env``).

On AWS, dbt-glue's interactive sessions get ``glue_spark_conf()``: the settings that decide what the SQL
means (``SHARED_CONF``: Iceberg extensions, the Iceberg session catalog, UTC, dynamic partition overwrite,
parser and ANSI modes) are the very dictionary ``spark_conf`` uses, plus the Glue Data Catalog and S3 in
place of Hive/Derby and the local disk. The ``glue`` profile reads them from ``LAKEHOUSE_GLUE_SPARK_CONF``
(``glue_conf_argument``), which ``lakehouse env --target glue`` prints and ``lakehouse dbt --target glue``
sets in-process.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ingestion.aws import AwsSettings
from ingestion.config import ConfigError, Settings

log = logging.getLogger(__name__)

LOG4J2 = Path(__file__).with_name("log4j2.properties")
ICEBERG_JAR = "iceberg-spark-runtime-3.5_2.12-1.10.2.jar"

TABLE_PROPERTIES = "tblproperties ('format-version' = '2', 'write.metadata.delete-after-commit.enabled' = 'true')"
"""Every table the ingestion layer creates: Iceberg v2; metadata files older than the table's metadata log
(100 versions) are deleted at commit, so none is left behind unreferenced (dbt models get the same property
from ``dbt_project.yml``)."""


SHARED_CONF: dict[str, str] = {
    # Iceberg SQL (MERGE INTO, CALL, ...) and Iceberg tables in the session catalog, so models name
    # tables `schema.table` on every engine; the catalog behind it differs (Hive/Derby, Glue).
    "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
    "spark.sql.catalog.spark_catalog": "org.apache.iceberg.spark.SparkSessionCatalog",
    # Semantics.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.ansi.enabled": "false",
}
"""The settings local Spark and Glue share: everything that changes what a model's SQL computes."""

GLUE_CATALOG = "glue_catalog"
"""The Iceberg catalog dbt-glue writes through (its ``custom_iceberg_catalog_namespace`` default)."""


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


def spark_conf(settings: Settings) -> dict[str, str]:
    """Every Spark and Iceberg setting the lakehouse uses, as one flat dictionary."""
    jar = iceberg_runtime_jar()
    java_opts = " ".join(
        [
            "-Duser.timezone=UTC",
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
        # Iceberg tables in the session catalog, backed by a Hive metastore (embedded Derby locally).
        **SHARED_CONF,
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
        # Laptop-sized execution.
        "spark.sql.shuffle.partitions": "4",
        "spark.default.parallelism": "4",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "true",
        # Many small queries: compiling whole-stage Java code for each costs more than it saves.
        "spark.sql.codegen.wholeStage": "false",
    }
    conf.update(settings.extra_spark_conf)
    return conf


def spark_conf_json(settings: Settings) -> str:
    """The conf as JSON, the form ``profiles/profiles.yml`` reads from ``LAKEHOUSE_SPARK_CONF_JSON``."""
    return json.dumps(spark_conf(settings), sort_keys=True)


def glue_spark_conf(aws: AwsSettings) -> dict[str, str]:
    """The Spark settings of dbt-glue's Glue 5.0 interactive sessions: ``SHARED_CONF`` plus Iceberg
    tables in the Glue Data Catalog with data and metadata under ``<root>/warehouse/``. Two catalog
    names, one catalog: ``spark_catalog`` (what models' ``schema.table`` names resolve to, as locally)
    and ``glue_catalog`` (the name dbt-glue prefixes the Iceberg tables it writes with)."""
    warehouse = aws.uri("warehouse")
    conf = dict(SHARED_CONF)
    for catalog in ("spark_catalog", GLUE_CATALOG):
        prefix = f"spark.sql.catalog.{catalog}"
        if catalog != "spark_catalog":
            conf[prefix] = "org.apache.iceberg.spark.SparkCatalog"
        conf[f"{prefix}.catalog-impl"] = "org.apache.iceberg.aws.glue.GlueCatalog"
        conf[f"{prefix}.io-impl"] = "org.apache.iceberg.aws.s3.S3FileIO"
        conf[f"{prefix}.warehouse"] = warehouse
    conf["spark.sql.warehouse.dir"] = warehouse
    return conf


def glue_conf_argument(conf: dict[str, str]) -> str:
    """``conf`` as the value of a Glue session's ``--conf`` argument (``k=v --conf k=v ...``), the
    form of dbt-glue's ``conf`` profile field and of ``LAKEHOUSE_GLUE_SPARK_CONF``."""
    for key, value in conf.items():
        if any(char.isspace() for char in key + value):
            raise ConfigError(f"Glue --conf values cannot contain spaces: {key}={value!r}")
    return " --conf ".join(f"{key}={value}" for key, value in sorted(conf.items()))


def parse_glue_conf_argument(text: str) -> dict[str, str]:
    """The inverse of ``glue_conf_argument``."""
    pairs = [part.strip() for part in text.split("--conf")]
    return dict(pair.split("=", 1) for pair in pairs if pair)


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
