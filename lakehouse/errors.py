"""Exit codes, and the failures the ``lakehouse`` command explains in one line.

0 success; 1 the command could not do its job; 2 bad usage or configuration (``ConfigError``);
130 interrupted. See ``lakehouse.cli`` for which failure gives which code.
"""

from __future__ import annotations

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


class RunFailed(Exception):
    """An expected failure with a message for the user (exit 1)."""


def friendly(exc: BaseException) -> str | None:
    """A one-line explanation for failures we know, else None."""
    text = str(exc)
    if "XSDB6" in text or "Another instance of Derby" in text:
        return (
            "the metastore is opened by another process (embedded Derby allows one). Stop the other "
            "`dbt`/`pyspark` process using this LAKEHOUSE_HOME, or use another --home."
        )
    if "XJ040" in text or "Failed to start database" in text or "Unable to instantiate" in text:
        return (
            "the metastore could not be opened (lost or corrupt?). The data is safe in the warehouse: "
            "`lakehouse repair` rebuilds the catalog from it"
        )
    if "JAVA_GATEWAY_EXITED" in text or "Java gateway process exited" in text:
        return "Spark could not start its JVM: is Java 17 installed and JAVA_HOME correct? (java -version)"
    return None


def one_line(exc: BaseException) -> str:
    """``friendly`` when we know the failure, else its type and the first line of its message."""
    text = str(exc).strip()
    return friendly(exc) or f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
