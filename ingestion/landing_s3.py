"""A landing root on S3 (``s3://bucket/prefix/landing/``): the same rules as a local folder, through boto3.

- **Discovery** lists the prefix (paginated, any number of objects). An object's path is its key relative
  to the landing prefix, so lineage, the ledger and the registry's globs see exactly what they see for a
  local folder. The local rules apply to keys: temporary names and folders starting with ``.`` or ``_`` are
  ignored, objects modified in the last ``settle_seconds`` wait for the next run. Size and modification
  time (whole seconds, what S3 keeps) form the ledger key, so an object already recorded is never read.
- **Identity** is the SHA-256 of the content, as the same hex digest a local file gets: the object's own
  full-object ``ChecksumSHA256`` when S3 has one (uploaded with ``ChecksumAlgorithm=SHA256``), else
  computed while streaming. A new object is downloaded once into the cache folder (``<home>/landing-cache``
  locally, a temporary folder on Glue), where the strict text check, the header and the quoting checks read
  it; a copy whose hash differs from S3's checksum stops the run before anything is written. The same
  content under another key is then a recorded duplicate, as locally.
- **Reading**: a local run lets Spark read the downloaded copy; on Glue (``spark_reads_s3=True``) Spark
  reads the ``s3://`` object itself (``LandingFile.uri``).
- **Changed during the batch**: before the commit every new object is looked up again (HEAD); another
  size or modification time aborts the batch exactly like a local file that changed.
- **Archival** (sources with ``archive=True``), only after the ledger commit: copy to ``archive/`` beside
  the landing prefix (``.../landing/events/x.csv`` -> ``.../archive/events/x.csv``), then delete. S3 has no
  rename, so a run can stop between the two: the next run finds the committed object still in the
  landing, sees its copy already in the archive (same SHA-256) and only deletes it. Repeating either
  step is harmless. An archived object of the same name with other content is kept; the newcomer gets
  ``.<sha256[:12]>`` appended, like locally.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ingestion.aws import AwsSettings, split_s3_uri
from ingestion.config import ConfigError
from ingestion.files import Discovery, FileScan, LandingFile, is_temporary, match_source, scan_file
from ingestion.registry import Source

CHUNK = 1 << 20


class ChecksumMismatch(RuntimeError):
    """A downloaded object's bytes do not hash to the SHA-256 checksum S3 holds for it."""


def s3_client(region: str | None = None) -> Any:
    """A boto3 S3 client; boto3 finds credentials and honours ``AWS_ENDPOINT_URL`` itself."""
    import boto3
    from botocore.config import Config

    region = region or AwsSettings.from_env().region
    return boto3.client("s3", region_name=region, config=Config(retries={"mode": "standard", "max_attempts": 5}))


def full_object_sha256(response: dict[str, Any]) -> str | None:
    """The hex SHA-256 of the whole object from a GetObject/HeadObject answer (``ChecksumMode=ENABLED``),
    or None when S3 has none or only a checksum of part checksums (multipart, ``...-N``)."""
    value = response.get("ChecksumSHA256")
    if not value or "-" in value or response.get("ChecksumType") == "COMPOSITE":
        return None
    return base64.b64decode(value).hex()


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("404", "NoSuchKey", "NotFound")


def object_sha256(client: Any, bucket: str, key: str) -> str | None:
    """The hex SHA-256 of an object (None when it does not exist): S3's full-object checksum when it has
    one (no download), else hashed while streaming the body."""
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    known = full_object_sha256(head)
    if known is not None:
        return known
    digest = hashlib.sha256()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    for block in body.iter_chunks(CHUNK):
        digest.update(block)
    return digest.hexdigest()


def _mtime_ms(when: Any) -> int:
    """S3 keeps whole seconds (listings show ``.000Z``); HEAD answers in seconds: compare in seconds."""
    return int(when.timestamp()) * 1000


class S3Landing:
    """The ``ingestion.landing.Landing`` of an ``s3://`` landing root."""

    def __init__(self, uri: str, cache: Path, client: Any = None, spark_reads_s3: bool = False) -> None:
        bucket, prefix = split_s3_uri(uri)
        prefix = prefix.strip("/")
        if not prefix:
            raise ConfigError(
                f"an S3 landing must be a folder in its bucket (s3://bucket/prefix/landing/), not {uri!r}: "
                "archived files go beside it"
            )
        parent = prefix.rpartition("/")[0]
        self.bucket = bucket
        self.prefix = prefix + "/"
        self.archive_prefix = f"{parent}/archive/" if parent else "archive/"
        self.description = f"s3://{bucket}/{self.prefix}"
        self.cache = cache
        self.client = client if client is not None else s3_client()
        self.spark_reads_s3 = spark_reads_s3

    def key(self, rel_path: str) -> str:
        return self.prefix + rel_path

    def exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            return False
        return True

    def discover(self, sources: Iterable[Source], settle_seconds: float = 0.0, now: float | None = None) -> Discovery:
        """List the landing prefix (every page) and assign each complete object to its source, sorted by path.

        Starts the run's cache folder afresh: it only ever holds copies of this run's new objects."""
        import time

        sources = tuple(sources)
        now = time.time() if now is None else now
        if self.cache.exists():
            shutil.rmtree(self.cache)
        self.cache.mkdir(parents=True)
        found = Discovery([], [], [], [])
        if not self.exists():
            return found
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(self.prefix) :]
                if not rel or rel.endswith("/"):
                    continue  # the prefix itself, a folder marker
                *folders, name = rel.split("/")
                if any(not part or part in (".", "..") for part in (*folders, name)):
                    found.outside.append(rel)  # no local path could hold it: never followed
                    continue
                if is_temporary(name) or any(part.startswith((".", "_")) for part in folders):
                    continue
                source = match_source(rel, sources)
                if source is None:
                    found.unmatched.append(rel)
                    continue
                if settle_seconds and now - obj["LastModified"].timestamp() < settle_seconds:
                    found.unsettled.append(rel)
                    continue
                uri = f"s3://{self.bucket}/{obj['Key']}" if self.spark_reads_s3 else None
                found.files.append(
                    LandingFile(source.name, rel, self.cache / rel, obj["Size"], _mtime_ms(obj["LastModified"]), uri)
                )
        found.files.sort(key=lambda f: f.rel_path)
        found.unmatched.sort()
        return found

    def scan(self, file: LandingFile, encoding: str) -> FileScan:
        """Download the object into the cache (hashing while streaming), check it against S3's checksum,
        then the same strict text check as a local file."""
        response = self.client.get_object(Bucket=self.bucket, Key=self.key(file.rel_path), ChecksumMode="ENABLED")
        file.abs_path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(file.abs_path, "wb") as out:
            for block in response["Body"].iter_chunks(CHUNK):
                digest.update(block)
                out.write(block)
        modified = response["LastModified"].timestamp()
        os.utime(file.abs_path, (modified, modified))
        known = full_object_sha256(response)
        if known is not None and known != digest.hexdigest():
            raise ChecksumMismatch(
                f"{self.description}{file.rel_path}: the download does not match the object's SHA-256 checksum; "
                "nothing was written, run again"
            )
        checked = scan_file(file.abs_path, encoding)
        return FileScan(known or digest.hexdigest(), checked.problem)

    def restat(self, file: LandingFile) -> tuple[str, str, int, int] | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(file.rel_path))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return (file.source, file.rel_path, head["ContentLength"], _mtime_ms(head["LastModified"]))

    def archive(self, rel_path: str, digest: str) -> None:
        """Copy then delete; finishes a move a previous run left half-done; a no-op when already moved."""
        source = self.key(rel_path)
        target = self.archive_prefix + rel_path
        archived = object_sha256(self.client, self.bucket, target)
        if archived is not None and archived != digest:  # a different file archived under this name
            target = f"{target}.{digest[:12]}"
            archived = object_sha256(self.client, self.bucket, target)
        if archived != digest:
            self.client.copy(
                {"Bucket": self.bucket, "Key": source},
                self.bucket,
                target,
                ExtraArgs={"ChecksumAlgorithm": "SHA256"},
            )
        self.client.delete_object(Bucket=self.bucket, Key=source)  # deleting a missing key succeeds
