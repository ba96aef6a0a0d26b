"""Everything the ``lakehouse`` command prints goes through here: lines on stdout, one-line errors on
stderr, and result tables (aligned text, CSV or JSON)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import click


def echo(text: str = "") -> None:
    click.echo(text)


def confirm(question: str) -> None:
    """Ask; anything but yes aborts the command (exit 1, "aborted, nothing was changed")."""
    click.confirm(question, abort=True)


def error(text: str) -> None:
    """One ``error: ...`` line on stderr (every failure of the command says why this way)."""
    click.echo(f"error: {text}", err=True)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(text.rstrip() for text in [line, rule, *body])


def format_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue().rstrip("\n")


def format_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    return json.dumps(records, default=json_default, indent=2)


def json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):  # exact, with the column's scale: "97.5500", never 97.55
        return format(value, "f")
    return str(value)


FORMATS = {"table": format_table, "csv": format_csv, "json": format_json}
"""``lakehouse query --format``: renderers of (columns, rows)."""
