"""``LAKEHOUSE_JIT``: the local driver JVM's compilers, from the setting to the running JVM."""

from __future__ import annotations

import pytest

from ingestion.config import ConfigError, load_settings
from ingestion.spark import spark_conf

C1_ONLY = "-XX:TieredStopAtLevel=1"


def test_the_setting_picks_the_driver_jvm_options(tmp_path):
    default = load_settings(home=tmp_path, landing=tmp_path, env={})
    quick = load_settings(home=tmp_path, landing=tmp_path, env={"LAKEHOUSE_JIT": "quick"})
    assert default.jit == "full" and C1_ONLY not in spark_conf(default)["spark.driver.extraJavaOptions"]
    assert C1_ONLY in spark_conf(quick)["spark.driver.extraJavaOptions"].split()


def test_an_unknown_mode_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match=r"^LAKEHOUSE_JIT must be one of full, quick, got 'fast'$"):
        load_settings(home=tmp_path, landing=tmp_path, env={"LAKEHOUSE_JIT": "fast"})


def test_the_running_jvm_got_the_option(spark, lakehouse_settings):
    """The suite's session was started with ``quick``: the JVM's own arguments say so."""
    arguments = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
    assert (C1_ONLY in list(arguments)) == (lakehouse_settings.jit == "quick")
    assert lakehouse_settings.jit == "quick"
