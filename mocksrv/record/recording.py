"""What `mocksrv record` writes: the exchange file (each request and answer in the format of the
admin API's `GET /__admin/journal/{requestId}`) and the scenario overlay that replays them."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from mocksrv.clock import iso
from mocksrv.record import redact
from mocksrv.record.classify import Seen, classify
from mocksrv.upstream import Message, Target

BODY_BYTES = 64 * 1024  # of each body in the exchange file (the overlay keeps bodies whole)
PIN_BYTES = 256 * 1024  # a larger answer is in the exchange file only, not pinned
OVERLAY_BYTES = 7 * 1024 * 1024  # scenario files may hold 8 MiB: past this, nothing more is pinned
MAX_EXCHANGES = 10_000  # entries of the exchange file; later calls are counted, not written
# answer headers a replaying mocksrv sets itself (framing, date, per-request ids)
NOT_PINNED = frozenset(
    {
        "content-length", "transfer-encoding", "connection", "keep-alive", "date",
        "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2", "x-amz-apigw-id",
        "x-amzn-trace-id",
    }
)  # fmt: skip
KEY_NAMES = {
    "agcod": ("operation", "partner_id", "request_id"),
    "prime": ("operation", "benefit_id", "offer_code"),
    "promotions": ("operation", "bucket", "key"),
}


class Recording:
    """The exchanges seen so far and the replies to pin; both files are rewritten whole after
    every exchange (written aside, then renamed), so they are complete whenever the proxy stops."""

    def __init__(
        self,
        overlay: Path,
        exchanges: Path,
        targets: list[Target],
        extends: str | None,
        mask: redact.CodeMask | None = None,
    ) -> None:
        self.overlay, self.exchanges = overlay, exchanges
        self.targets, self.extends, self.mask = targets, extends, mask
        self.entries: list[dict[str, Any]] = []
        self.pinned: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
        self.skipped: list[str] = []  # why some answers were not pinned
        self.not_written = 0  # calls past MAX_EXCHANGES
        self._overlay_bytes = 0
        self._lock = threading.Lock()

    def add(self, request: Message, response: Message, target: Target, started: float) -> None:
        seen = classify(request, response)
        answer = self._clean(response.body)
        with self._lock:
            if len(self.entries) < MAX_EXCHANGES:
                entry = _entry(len(self.entries) + 1, request, response, seen, started, answer)
                entry["target"] = target.url
                self.entries.append(entry)
            else:
                self.not_written += 1
            if seen.api in KEY_NAMES and seen.key is not None:
                self._pin(seen, response, answer)
            self.write()

    def _clean(self, data: bytes) -> bytes:
        data = redact.body(data)
        return self.mask.body(data) if self.mask else data

    def _pin(self, seen: Seen, response: Message, body: bytes) -> None:
        assert seen.api is not None and seen.key is not None
        where = f"{seen.api} {' '.join(seen.key)}"
        if len(body) > PIN_BYTES or self._overlay_bytes + len(body) > OVERLAY_BYTES:
            self.skipped.append(f"{where}: answer too large to pin ({len(body)} bytes)")
            return
        reply: dict[str, Any] = {"status": response.status}
        headers = {k: v for k, v in response.headers if k.lower() not in NOT_PINNED}
        headers = {k: redact.header(k, v) for k, v in headers.items()}
        if headers:
            reply["headers"] = headers
        try:
            reply["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            reply["body_base64"] = base64.b64encode(body).decode()
        self._overlay_bytes += len(body) + 200
        self.pinned.setdefault((seen.api, seen.key), []).append(reply)

    def write(self) -> None:
        """Both files as they stand (OSError if they cannot be written: a folder that cannot be
        made fails before either file is written)."""
        for path in (self.exchanges, self.overlay):
            path.parent.mkdir(parents=True, exist_ok=True)
        _replace(self.exchanges, json.dumps(self._exchange_doc(), indent=1) + "\n")
        _replace(self.overlay, self.overlay_text())

    def _exchange_doc(self) -> dict[str, Any]:
        return {
            "recordedBy": "mocksrv record",
            "targets": [t.url for t in self.targets],
            "count": len(self.entries),
            "entries": self.entries,
        }

    def overlay_text(self) -> str:
        doc: dict[str, Any] = {"version": 1, "name": "recorded"}
        doc["description"] = (
            f"Replies recorded from {', '.join(t.url for t in self.targets)} by mocksrv record"
        )
        if self.extends:
            doc["extends"] = self.extends
        for api, names in KEY_NAMES.items():
            items = []
            for (pinned_api, key), replies in self.pinned.items():
                if pinned_api != api:
                    continue
                item = {name: value for name, value in zip(names, key, strict=True) if value}
                items.append({**item, "replies": replies})
            if items:
                doc[api] = {"recorded": items}
        count = sum(len(r) for r in self.pinned.values())
        head = (
            f"# Recorded by `mocksrv record` ({count} replies pinned). Secrets, Authorization and\n"
            "# session tokens are never written. Replay: mocksrv serve --scenario THIS-FILE\n"
        )
        return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1 << 20)


def _entry(
    seq: int, request: Message, response: Message, seen: Seen, started: float, answer: bytes
) -> dict[str, Any]:
    """One exchange as `GET /__admin/journal/{requestId}` shows a call."""
    rid = response.header("x-amzn-RequestId") or response.header("x-amz-request-id")
    journal = {
        "seq": seq,
        "requestId": rid,
        "time": iso(datetime.now(UTC)),
        "scenarioTime": None,  # a real service shows no scenario clock
        "method": request.method,
        "path": redact.target(request.target),
        "api": seen.api,
        "operation": seen.operation,
        "identity": None,  # the signing key is not written
        "outcome": seen.outcome,
        "status": response.status,
        "signature_failed": seen.signature_failed,
        "latencyMs": round((time.perf_counter() - started) * 1000, 3),
        "fields": seen.fields,
        "fault": None,
    }
    return {
        "entry": journal,
        "kept": True,
        "request": _side(request.headers, redact.body(request.body)),
        "response": {"status": response.status, **_side(response.headers, answer)},
        "signature": None,
    }


def _side(headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    return {
        "headers": [[k, redact.header(k, v)] for k, v in headers],
        "body": body[:BODY_BYTES].decode("utf-8", errors="replace"),
        "bodyBytes": len(body),
        "bodyTruncated": len(body) > BODY_BYTES,
    }


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
