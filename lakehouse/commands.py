"""Click plumbing shared by the commands: failures turned into one ``error:`` line and an exit code
(``handle_errors``, ``LakehouseGroup``), the query command's SQL argument, the ``--landing`` option."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click

from ingestion.config import ConfigError
from ingestion.errors import IngestAborted
from lakehouse.errors import FAILED, INTERRUPTED, USAGE, RunFailed, one_line
from lakehouse.lock import LockBusy
from lakehouse.output import error


def handle_errors(command: Callable[..., int]) -> Callable[..., None]:
    """Turn expected failures into a message and an exit code; log the traceback of the rest."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Abort):
            raise
        except ConfigError as exc:
            error(str(exc))
            code = USAGE
        except (LockBusy, RunFailed, IngestAborted) as exc:
            error(str(exc))
            code = FAILED
        except KeyboardInterrupt:
            error("interrupted; a re-run resumes safely (interrupted batches are rolled back)")
            code = INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - last line of defence: message + logged traceback
            error(f"{one_line(exc)}{keep_traceback(traceback.format_exc())}")
            code = FAILED
        sys.exit(code)

    return wrapper


def keep_traceback(text: str) -> str:
    """Write ``text`` to ``logs/last-error.txt`` of the command's home (its settings, once made; else
    ``$LAKEHOUSE_HOME``): " (traceback in <path>)", or "" if it cannot be written."""
    ctx = click.get_current_context(silent=True)
    settings = (ctx.obj or {}).get("settings") if ctx is not None else None
    logs = settings.logs_dir if settings is not None else Path(os.environ.get("LAKEHOUSE_HOME", ".lakehouse")) / "logs"
    trace = logs / "last-error.txt"
    try:
        trace.parent.mkdir(parents=True, exist_ok=True)
        trace.write_text(text)
    except OSError:
        return ""
    return f" (traceback in {trace})"


class LakehouseGroup(click.Group):
    """Click's own errors (usage, bad option values, an aborted confirmation) in the same one-line
    ``error:`` style as the commands' errors, with the same exit codes (2 usage, 1 aborted)."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `lakehouse`: click's help, as is
                exc.show()
                sys.exit(exc.exit_code)
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f" (see `{exc.ctx.command_path} --help`)"
            error(f"{exc.format_message()}{hint}")
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            error("aborted, nothing was changed")
            sys.exit(FAILED)


class SqlCommand(click.Command):
    """``query``'s SQL may start with a ``--`` comment: an argument that starts with ``-`` and holds
    whitespace (before any ``=``) is SQL, never an option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            sql = [a for a in args if a.startswith("-") and any(c.isspace() for c in a.split("=", 1)[0])]
            if sql:
                args = [a for a in args if a not in sql] + ["--", *sql]
        return super().parse_args(ctx, args)


landing_option = click.option(
    "--landing",
    type=click.Path(file_okay=False),
    default=None,
    help="Landing root (default: $LAKEHOUSE_LANDING, else ./data/landing).",
)


def read_sql(sql: str | None, sql_file: TextIO | None) -> str:
    """``query``'s SQL: the argument, ``-f FILE``, or ``-`` (standard input); exactly one, not empty."""
    if sql is not None and sql_file is not None:
        raise click.UsageError("give the SQL as an argument or with -f FILE, not both")
    if sql_file is not None:
        sql = sql_file.read()
    elif sql == "-":
        sql = sys.stdin.read()
    if sql is None:
        raise click.UsageError('give the SQL: lakehouse query "select ...", -f FILE, or - (standard input)')
    if not sql.strip():
        raise ConfigError("the SQL is empty")
    return sql
