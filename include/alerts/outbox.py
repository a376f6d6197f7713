"""A durable outbox for Slack messages that could not be posted: one JSON object per message, deleted once posted.

Task-failure notices are parked here when the webhook is down and posted later by the next alert task
or the next failure callback. The outbox lives under an S3 prefix (`LAKEHOUSE_ALERT_OUTBOX`, default
`s3://<warehouse bucket>/_ops/alert_outbox/`): the local object store and AWS alike, and reachable from any Astro
worker, unlike a worker's disk. When S3 itself is unreachable the message falls back to a local directory
(`LAKEHOUSE_ALERT_OUTBOX_FALLBACK`, default `<LAKEHOUSE_HOME>/alert_outbox`), drained the same way.

Each message is stored under a name derived from its notice id, so parking the same notice twice keeps one copy;
a parked message is deleted right after the webhook accepted it, so it is posted once. Two drains at the same time
(an alert task and a failure callback) do not both post it: each first claims the message with a create-if-absent
write (S3 `If-None-Match: *`, or O_EXCL on a disk), and only the claimant posts. A claim left by a drain that died
is taken over after CLAIM_TTL; a drain that died between posting and deleting is the one case that posts twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger(__name__)
# Longer than any post with its retries takes; a claim this old was left by a drain that died.
CLAIM_TTL = timedelta(minutes=15)
CLAIMS = "claims"


def record_name(notice_id: str) -> str:
    return hashlib.sha256(notice_id.encode("utf-8")).hexdigest()[:40] + ".json"


def _record(notice_id: str, message: dict) -> bytes:
    doc = {"notice_id": notice_id, "parked_at": datetime.now(timezone.utc).isoformat(), "message": message}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


class DirOutbox:
    """An outbox in a local directory: files written whole (temp file, then rename)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.uri = self.path.as_uri()

    def put(self, notice_id: str, message: dict) -> str:
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / record_name(notice_id)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(_record(notice_id, message))
        os.chmod(tmp, 0o600)
        tmp.replace(target)
        return target.name

    def pending(self) -> list[tuple[str, dict]]:
        if not self.path.is_dir():
            return []
        records = [(p.name, json.loads(p.read_bytes())) for p in self.path.glob("*.json")]
        return sorted(records, key=lambda r: r[1]["parked_at"])

    def _claim_path(self, name: str) -> Path:
        return self.path / CLAIMS / name

    def claim(self, name: str) -> bool:
        path = self._claim_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                return True
            except FileExistsError:
                age = datetime.now(timezone.utc) - datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
                if age < CLAIM_TTL:
                    return False
                path.unlink(missing_ok=True)
        return False

    def release(self, name: str) -> None:
        self._claim_path(name).unlink(missing_ok=True)

    def remove(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)
        self.release(name)


class S3Outbox:
    """An outbox under an S3 prefix, through the project's S3 client (local store or AWS)."""

    def __init__(self, bucket: str, prefix: str, client=None, settings=None):
        self.bucket, self.prefix = bucket, prefix.strip("/") + "/"
        self.uri = f"s3://{bucket}/{self.prefix}"
        self._client, self.settings = client, settings

    @property
    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config

            from include.settings import get_settings

            # Short timeouts: a failure callback holds the failed task's worker while it parks a notice.
            config = Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=15,
                            retries={"max_attempts": 3, "mode": "standard"})
            self._client = boto3.client("s3", config=config, **(self.settings or get_settings()).boto3_kwargs())
        return self._client

    def put(self, notice_id: str, message: dict) -> str:
        name = record_name(notice_id)
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + name, Body=_record(notice_id, message),
                               ContentType="application/json")
        return name

    def pending(self) -> list[tuple[str, dict]]:
        records = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(self.prefix):]
                if "/" in name or not name.endswith(".json"):
                    continue
                body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                records.append((name, json.loads(body)))
        return sorted(records, key=lambda r: r[1]["parked_at"])

    def claim(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        key = f"{self.prefix}{CLAIMS}/{name}"
        for _ in range(2):
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=b"", IfNoneMatch="*")
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                    raise
            try:
                modified = self.client.head_object(Bucket=self.bucket, Key=key)["LastModified"]
            except ClientError:
                continue  # released meanwhile: try again
            if datetime.now(timezone.utc) - modified < CLAIM_TTL:
                return False
            self.client.delete_object(Bucket=self.bucket, Key=key)
        return False

    def release(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=f"{self.prefix}{CLAIMS}/{name}")

    def remove(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)
        self.release(name)


def outbox_from_uri(uri: str, settings=None):
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return S3Outbox(parsed.netloc, parsed.path, settings=settings)
    if parsed.scheme == "file":
        return DirOutbox(Path(parsed.path))
    raise ValueError(f"alert outbox must be an s3:// or file:// URI, not {uri!r}")


def configured_outboxes(settings=None) -> list:
    """The primary outbox, then the local fallback, of `settings` (by default the settings as they are now: a
    failure callback has no task to hand it any)."""
    from include.settings import get_settings

    settings = settings or get_settings()
    primary = settings.alerts.outbox or f"s3://{settings.warehouse_bucket}/_ops/alert_outbox/"
    fallback = settings.alerts.outbox_fallback or (settings.home / "alert_outbox").as_uri()
    return [outbox_from_uri(primary, settings), outbox_from_uri(fallback)]


class OutboxError(RuntimeError):
    """No outbox could keep the message: it is lost unless the log is read."""


def park(outboxes: list, notice_id: str, message: dict) -> str:
    """Store `message` in the first outbox that takes it; return that outbox's URI."""
    for outbox in outboxes:
        try:
            outbox.put(notice_id, message)
            return outbox.uri
        except Exception as exc:  # S3 down or a read-only disk: try the next one
            log.warning("alert outbox %s refused a message: %s", outbox.uri, type(exc).__name__)
    raise OutboxError(f"no alert outbox could keep notice {notice_id}")


def drain(outboxes: list, send: Callable[[dict], None]) -> int:
    """Post every parked message, oldest first, deleting each right after `send` returned; return how many.

    A message another drain has claimed is left to it.
    `send` raises when the webhook does not accept a message: that message and the rest stay for the next drain.
    An outbox that cannot be listed is skipped; its error is raised after the others were drained.
    """
    sent, failure = 0, None
    for outbox in outboxes:
        try:
            records = outbox.pending()
        except Exception as exc:
            log.warning("alert outbox %s could not be read: %s", outbox.uri, type(exc).__name__)
            failure = failure or exc
            continue
        for name, record in records:
            if not outbox.claim(name):
                continue  # another drain is posting it
            try:
                send(record["message"])
            except BaseException:
                outbox.release(name)
                raise
            outbox.remove(name)
            sent += 1
    if sent:
        log.info("alert outbox: %d parked notices delivered", sent)
    if failure is not None:
        raise failure
    return sent
