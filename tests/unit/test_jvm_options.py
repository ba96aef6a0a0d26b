"""The local driver JVM's options, from the settings to the running JVM: ``LAKEHOUSE_JIT`` (its compilers)
and ``LAKEHOUSE_JVM_ARCHIVE`` (the class-data-sharing archive ``make jvm-archive`` writes)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ingestion.config import ConfigError, load_settings
from ingestion.spark import archive_options, spark_conf

C1_ONLY = "-XX:TieredStopAtLevel=1"


def test_the_setting_picks_the_driver_jvm_options(tmp_path):
    default = load_settings(home=tmp_path, landing=tmp_path, env={})
    quick = load_settings(home=tmp_path, landing=tmp_path, env={"LAKEHOUSE_JIT": "quick"})
    assert default.jit == "full" and C1_ONLY not in spark_conf(default)["spark.driver.extraJavaOptions"]
    options = spark_conf(quick)["spark.driver.extraJavaOptions"].split()
    # C1 alone would size the code cache for one compiler (48 MB): a long session filled it and the JVM
    # stopped compiling; quick keeps the tiered default's 240 MB
    assert C1_ONLY in options and "-XX:ReservedCodeCacheSize=240m" in options


def test_an_unknown_mode_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match=r"^LAKEHOUSE_JIT must be one of full, quick, got 'fast'$"):
        load_settings(home=tmp_path, landing=tmp_path, env={"LAKEHOUSE_JIT": "fast"})


def test_the_running_jvm_got_the_option(spark, lakehouse_settings):
    """The suite's session was started with ``quick``: the JVM's own arguments say so."""
    arguments = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
    assert lakehouse_settings.jit == "quick" and C1_ONLY in list(arguments)


def test_an_archive_is_used_only_when_the_file_exists(tmp_path):
    archive = tmp_path / "lakehouse.jsa"
    settings = load_settings(home=tmp_path, landing=tmp_path, env={"LAKEHOUSE_JVM_ARCHIVE": str(archive)})
    assert settings.jvm_archive == archive and archive_options(archive) == []
    archive.write_bytes(b"x")
    options = spark_conf(settings)["spark.driver.extraJavaOptions"].split()
    assert f"-XX:SharedArchiveFile={archive}" in options and "-Xlog:cds=off" in options
    assert archive_options(None) == []


def test_the_running_jvm_maps_the_archive(spark, lakehouse_settings):
    """When the suite has an archive (``make pytest`` writes it first), the JVM really maps it: the CDS
    region is the JDK's own archive plus ours, larger than our file alone."""
    archive = lakehouse_settings.jvm_archive
    if archive is None or not archive.is_file():
        pytest.skip(f"no JVM archive at {archive}: `make jvm-archive` writes it")
    if not shutil.which("jcmd"):
        pytest.skip("jcmd (the JDK's diagnostic command) is not installed")
    pid = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getPid()
    info = subprocess.run(["jcmd", str(pid), "VM.info"], capture_output=True, text=True, timeout=60).stdout
    mapped = re.search(r"CDS archive\(s\) mapped at: .*size (\d+)", info)
    assert mapped, info[:2000]
    assert int(mapped[1]) > archive.stat().st_size
