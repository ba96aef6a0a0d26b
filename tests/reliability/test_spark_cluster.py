"""The pipeline on a Spark standalone cluster (``LAKEHOUSE_SPARK_MASTER=spark://host:port``).

A master and one worker (1 core, 1 GiB) are started on 127.0.0.1 from the installed pyspark's own launch
classes; ``lakehouse run`` then ingests telecom demo files and builds the telecom models on them, with
its executor in a JVM the worker launched, not in the driver. The master's JSON shows the application
with a core granted; the tables hold every row. Both daemons are always stopped. Skips where java or
local ports are unavailable.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.e2e

DAYS, ROWS = 2, 50
TELECOM_MODELS = "+subscriptions telecom_plan_types"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def master_state(webui: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{webui}/json", timeout=5) as response:
        return json.load(response)


def wait_for(condition, what: str, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def cluster(tmp_path):
    """(master URL, web UI port) of a running standalone master with one ALIVE worker."""
    import pyspark

    java_home = os.environ.get("JAVA_HOME")
    java = shutil.which("java", path=os.pathsep.join(filter(None, [java_home and f"{java_home}/bin", os.defpath])))
    java = shutil.which("java") or java
    if java is None:
        pytest.skip("no java on PATH or under JAVA_HOME: cannot start a Spark standalone cluster")
    try:
        port, webui, worker_port, worker_webui = (free_port() for _ in range(4))
    except OSError as exc:
        pytest.skip(f"cannot bind a local port for the cluster: {exc}")
    spark_home = Path(pyspark.__file__).parent
    classpath = str(spark_home / "jars" / "*")
    # Without SPARK_SCALA_VERSION the worker looks for a source build's directories to launch an executor.
    [core] = (spark_home / "jars").glob("spark-core_*.jar")
    scala = core.name.removeprefix("spark-core_").split("-")[0]
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_SCALA_VERSION": scala, "SPARK_LOCAL_IP": "127.0.0.1"}
    logs = tmp_path / "cluster-logs"
    logs.mkdir()
    daemons: list[subprocess.Popen] = []

    def launch(name: str, *args: str) -> None:
        with open(logs / f"{name}.log", "wb") as log:
            daemons.append(
                subprocess.Popen(
                    [java, "-Xmx256m", "-cp", classpath, *args], env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )

    try:
        launch(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(webui),
        )  # fmt: skip
        wait_for(lambda: master_state(webui).get("status") == "ALIVE", "the master")
        launch(
            "worker",
            "org.apache.spark.deploy.worker.Worker",
            f"spark://127.0.0.1:{port}",
            "--host", "127.0.0.1", "--port", str(worker_port), "--webui-port", str(worker_webui),
            "--cores", "1", "--memory", "1g", "--work-dir", str(tmp_path / "worker"),
        )  # fmt: skip
        wait_for(lambda: master_state(webui).get("aliveworkers") == 1, "the worker to register")
        yield f"spark://127.0.0.1:{port}", webui
    finally:
        for daemon in reversed(daemons):
            stop(daemon)


def test_run_on_a_standalone_cluster(cluster, tmp_path):
    from lakehouse.demo import telecom

    master, webui = cluster
    home, landing = tmp_path / "home", tmp_path / "landing"
    telecom.generate(landing, DAYS, ROWS)
    env = {"LAKEHOUSE_SPARK_MASTER": master, "LAKEHOUSE_DRIVER_MEMORY": "1g"}

    result = run_cli("run", "--select", TELECOM_MODELS, home=home, landing=landing, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_cli(
        "query",
        "--engine", "spark",  # the default engine, DuckDB, starts no Spark: this one runs on the cluster too
        "select (select count(*) from bronze.telecom_subscriptions) as bronze, "
        "(select count(*) from bronze.quarantine) as quarantined, "
        "(select count(distinct _source_file) from bronze.telecom_subscriptions) as files",
        "--format", "json",
        home=home, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    [counts] = json.loads(result.stdout)
    assert counts == {"bronze": DAYS * ROWS, "quarantined": 0, "files": DAYS}

    # Both commands ran as applications of this master, and their tasks in an executor JVM the worker
    # launched for each (its log starts with the executor's command line and records the tasks it ran).
    state = master_state(webui)
    assert [app["name"] for app in state["completedapps"] + state["activeapps"]] == ["lakehouse", "lakehouse"]
    executor_logs = sorted((tmp_path / "worker").glob("app-*/*/stderr"))
    assert len(executor_logs) == 2
    for log in executor_logs:
        text = log.read_text(errors="replace")
        assert "CoarseGrainedExecutorBackend" in text and "Finished task" in text, log
