"""The local AWS stand-in: one moto server per test worker on 127.0.0.1 (a free port), stopped afterwards.

Real boto3 and the real dbt adapters talk to it through ``AWS_ENDPOINT_URL``; nothing of ours is mocked.
``aws_env`` points a test's environment at it with dummy credentials and resets moto's state first, so
tests do not see each other's buckets, tables or executions.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def moto_api(endpoint: str, path: str, body: bytes = b"") -> None:
    """POST to moto's own API (``/moto-api/reset``, ``/moto-api/config``)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/{path}", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def point_at_stand_in(patch: pytest.MonkeyPatch, endpoint: str) -> dict[str, str]:
    """Point this process's AWS environment (and its subprocesses') at the stand-in, dummy credentials."""
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        patch.delenv(name, raising=False)
    for name, value in env.items():
        patch.setenv(name, value)
    return env


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment of a test that talks to the stand-in (state reset), also for subprocesses."""
    moto_api(moto_endpoint, "reset")
    return point_at_stand_in(monkeypatch, moto_endpoint)
