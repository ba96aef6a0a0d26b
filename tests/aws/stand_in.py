"""What moto lacks for dbt on Glue and Athena, in front of it: an HTTP proxy at the AWS API boundary.

The real dbt adapters and boto3 talk to it through ``AWS_ENDPOINT_URL``; every request it does not handle
goes on to the moto server unchanged. It adds two things moto does not model:

- **Glue interactive sessions** (CreateSession, GetSession, RunStatement, GetStatement, ...): moto answers
  CreateSession without ``Session.Id`` and does not implement RunStatement. Here a session is READY at
  once, every statement succeeds with an empty result (the form dbt-glue's ``SqlWrapper2`` prints), and
  the code of every statement is recorded, so a test can assert what dbt-glue would run on Glue.
- **Athena's effect on the catalog**: moto's Athena records queries but runs nothing, so a
  ``create table ... as`` or ``create view`` never shows up in the Glue Data Catalog and dbt-athena's
  next step (table versions, renames) fails. Here each query is recorded and its DDL applied to moto's
  Glue catalog: CREATE TABLE/VIEW registers the table (the columns of its select list when sqlglot can
  name them), DROP removes it. DML changes nothing (there is no data).

Nothing here runs SQL: statements are recorded and asserted, not executed.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import sqlglot
from sqlglot import exp

_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}
_CREATE = re.compile(
    r"^\s*create\s+(or\s+replace\s+)?(?P<kind>table|view)\s+(if\s+not\s+exists\s+)?"
    r"(?P<name>[\w\"`.]+)",
    re.IGNORECASE,
)
_DROP = re.compile(r"^\s*drop\s+(?P<kind>table|view)\s+(if\s+exists\s+)?(?P<name>[\w\"`.]+)", re.IGNORECASE)
_LOCATION = re.compile(r"\blocation\s*=\s*'(?P<uri>[^']+)'", re.IGNORECASE)
_LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", re.DOTALL)


@dataclass
class Recorded:
    glue_statements: list[str] = field(default_factory=list)
    athena_queries: list[str] = field(default_factory=list)
    sessions: list[dict] = field(default_factory=list)


def _split_name(name: str) -> tuple[str, str] | None:
    parts = [part.strip('"`') for part in name.split(".")]
    if len(parts) < 2:
        return None
    return parts[-2], parts[-1]


def _select_columns(sql: str) -> list[str]:
    """The output column names of a CTAS's or view's query, as Athena would register them, when sqlglot
    can name them all: a final ``select * from <cte>`` is followed into that CTE (the dbt style guide's
    shape: import CTEs, then ``select * from <final cte>``)."""
    try:
        tree = sqlglot.parse_one(sql, read="trino")
    except sqlglot.errors.ParseError:
        return []
    query = tree.expression if isinstance(tree, exp.Create) else tree
    ctes: dict[str, exp.Expression] = {}
    for _ in range(50):  # a chain of CTEs, never a cycle
        if query is None:
            return []
        if (with_ := query.args.get("with_")) is not None:
            ctes.update({cte.alias: cte.this for cte in with_.expressions})
        select = query if isinstance(query, exp.Select) else query.find(exp.Select)
        if select is None:
            return []
        names = select.named_selects
        if names and "*" not in names:
            return names
        source = select.args.get("from_")
        table = source.this if source is not None else None
        if names != ["*"] or not isinstance(table, exp.Table) or table.name not in ctes:
            return []
        query = ctes[table.name]
    return []


class _Handler(BaseHTTPRequestHandler):
    server: _StandInServer

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._forward(b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        service, _, operation = target.partition(".")
        if service == "AWSGlue" and operation in self.server.session_operations:
            request = json.loads(body or b"{}")
            try:
                self._reply(200, self.server.session_operations[operation](request))
            except KeyError as missing:
                self._reply(400, {"__type": "EntityNotFoundException", "Message": f"not found: {missing}"})
            return
        if service == "AmazonAthena" and operation == "StartQueryExecution":
            query = json.loads(body).get("QueryString", "")
            self.server.recorded.athena_queries.append(query)
            self.server.apply_ddl(query)
        self._forward(body)

    def do_PUT(self) -> None:
        self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def do_DELETE(self) -> None:
        self._forward(b"")

    def do_HEAD(self) -> None:
        self._forward(b"")

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _forward(self, body: bytes) -> None:
        request = urllib.request.Request(self.server.moto_endpoint + self.path, data=body or None, method=self.command)
        for key, value in self.headers.items():
            if key.lower() not in _HOP_HEADERS:
                request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, headers, data = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, data = error.code, error.headers, error.read()
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in _HOP_HEADERS:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class _StandInServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, moto_endpoint: str, region: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.moto_endpoint = moto_endpoint
        self.region = region
        self.recorded = Recorded()
        self.lock = threading.Lock()
        self.statements: dict[str, list[str]] = {}
        self.session_operations = {
            "CreateSession": self._create_session,
            "GetSession": self._get_session,
            "DeleteSession": self._delete_session,
            "StopSession": self._delete_session,
            "RunStatement": self._run_statement,
            "GetStatement": self._get_statement,
            "ListStatements": lambda request: {"Statements": []},
            "CancelStatement": lambda request: {},
        }

    # Glue interactive sessions
    def _create_session(self, request: dict) -> dict:
        with self.lock:
            self.recorded.sessions.append(request)
            self.statements.setdefault(request["Id"], [])
        return {"Session": {"Id": request["Id"], "Status": "PROVISIONING"}}

    def _get_session(self, request: dict) -> dict:
        with self.lock:
            self.statements[request["Id"]]  # KeyError: EntityNotFoundException, as Glue answers
        return {"Session": {"Id": request["Id"], "Status": "READY"}}

    def _delete_session(self, request: dict) -> dict:
        with self.lock:
            self.statements.pop(request["Id"], None)
        return {"Id": request["Id"]}

    def _run_statement(self, request: dict) -> dict:
        with self.lock:
            codes = self.statements.setdefault(request["SessionId"], [])
            codes.append(request["Code"])
            self.recorded.glue_statements.append(request["Code"])
            return {"Id": len(codes)}

    def _get_statement(self, request: dict) -> dict:
        with self.lock:
            code = self.statements[request["SessionId"]][int(request["Id"]) - 1]
        empty = {"type": "results", "sql": code, "schema": None, "results": [], "description": [], "rowcount": 0}
        return {
            "Statement": {
                "Id": int(request["Id"]),
                "Code": code,
                "State": "AVAILABLE",
                "Output": {"Status": "ok", "Data": {"TextPlain": json.dumps(empty)}},
            }
        }

    # Athena's effect on the catalog
    def apply_ddl(self, query: str) -> None:
        sql = _LEADING_COMMENTS.sub("", query)
        glue = boto3.client(
            "glue",
            endpoint_url=self.moto_endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        if match := _CREATE.match(sql):
            names = _split_name(match["name"])
            if names is None:
                return
            database, table = names
            columns = [{"Name": name, "Type": "string"} for name in _select_columns(sql)] or [
                {"Name": "_stand_in", "Type": "string"}
            ]
            view = match["kind"].lower() == "view"
            storage: dict = {"Columns": columns}
            if not view and (location := _LOCATION.search(sql)):
                storage["Location"] = location["uri"]
            table_input = {
                "Name": table,
                "TableType": "VIRTUAL_VIEW" if view else "EXTERNAL_TABLE",
                "Parameters": {} if view else {"table_type": "ICEBERG"},
                "StorageDescriptor": storage,
            }
            try:
                glue.create_table(DatabaseName=database, TableInput=table_input)
            except glue.exceptions.AlreadyExistsException:
                glue.update_table(DatabaseName=database, TableInput=table_input)
            except glue.exceptions.EntityNotFoundException:
                pass
        elif match := _DROP.match(sql):
            names = _split_name(match["name"])
            if names is not None:
                try:
                    glue.delete_table(DatabaseName=names[0], Name=names[1])
                except glue.exceptions.EntityNotFoundException:
                    pass


@contextmanager
def aws_stand_in(moto_endpoint: str, region: str) -> Iterator[tuple[str, Recorded]]:
    """Run the proxy in a thread: yields its endpoint and what it records."""
    server = _StandInServer(moto_endpoint, region)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}", server.recorded
    finally:
        server.shutdown()
        server.server_close()
