"""``lakehouse run --notify URL``: the run report (the JSON written under ``runs/``) POSTed to a
webhook. A webhook that fails, cannot be reached or is slow never fails the run: one warning line."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ingestion.config import ConfigError
from lakehouse.output import echo

TIMEOUT_SECONDS = 10.0
"""How long a webhook may take to answer before the run gives up on it (and says so)."""


def check_url(url: str | None) -> str | None:
    """``--notify`` must be an http(s) URL, checked before any work."""
    if url is not None and (urllib.parse.urlsplit(url).scheme not in ("http", "https") or "//" not in url):
        raise ConfigError(f"--notify {url!r}: give an http:// or https:// URL")
    return url


def post_report(url: str, report: Path, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """POST ``report``'s JSON to ``url``; None when the webhook answered 2xx, else why not."""
    request = urllib.request.Request(
        url,
        data=report.read_bytes(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "lakehouse-notify"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked
            response.read()
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"no answer within {timeout:g}s" if isinstance(reason, TimeoutError) else str(reason)
    return None


def notify_webhook(url: str | None, report: Path, timeout: float = TIMEOUT_SECONDS) -> None:
    """Send the report if ``url``; a failure is one warning line, never an error."""
    if url is None:
        return
    problem = post_report(url, report, timeout)
    if problem:
        echo(f"warning: --notify {url}: the run report was not delivered ({problem}); the run itself is unaffected")
    else:
        echo(f"notified {url}")
