"""Promotions state for one runtime: inventory, processed files, reports, the background worker."""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mocksrv.clock import ScenarioClock, iso
from mocksrv.services import recorded
from mocksrv.services.promotions import pipeline
from mocksrv.services.promotions.access import CompiledPolicy, client_policy
from mocksrv.services.promotions.config import Client, PromotionsConfig
from mocksrv.services.promotions.inventory import Inventory
from mocksrv.services.promotions.reports import Report
from mocksrv.services.promotions.s3 import MotoS3, ObjectGone
from mocksrv.state.sink import NULL_SINK, Sink

log = logging.getLogger("mocksrv")
HISTORY = 500  # reports kept for the admin view


@dataclass(frozen=True)
class Upload:
    """An object written under one of the two upload prefixes, waiting to be processed."""

    bucket: str
    key: str
    environment: str
    client: Client
    received_at: str


class PromotionsStore:
    """Everything the promotions emulation keeps; `snapshot()` is the admin view."""

    def __init__(self, config: PromotionsConfig, clock: ScenarioClock) -> None:
        self.config = config
        self.clock = clock
        self.inventory = Inventory()
        self.s3 = MotoS3(config.region, list(config.buckets.values()))
        self.policies = {
            c.access_key: CompiledPolicy(client_policy(c, config)) for c in config.clients.values()
        }
        self._lock = threading.Lock()
        self._processed: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._queue: queue.Queue[Upload | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._busy = 0
        self._sink: Sink = NULL_SINK
        self._report_seq = 0
        self._restored_uploads: list[Upload] = []
        self.replays = recorded.Replays(config.recorded)
        with self.inventory.lock:  # every configured pool shows in the admin view from the start
            for promo in config.promotions.values():
                for env in config.buckets:
                    pool = self.inventory.pool(env, promo.id)
                    self.inventory.commit_new(pool, promo.preload.get(env, []))

    # -- durable state ----------------------------------------------------------------------

    @property
    def sink(self) -> Sink:
        return self._sink

    @sink.setter
    def sink(self, sink: Sink) -> None:
        """Bind durable state; uploads that were waiting when the server stopped go on now."""
        self._sink = self.inventory.sink = self.s3.sink = sink
        waiting, self._restored_uploads = self._restored_uploads, []
        for upload in waiting:
            self.submit(upload)

    def restore(self, rows: list[tuple[str, str, Any]]) -> None:
        clients = {c.name: c for c in self.config.clients.values()}
        inventory, objects = [], []
        for kind, key, value in rows:
            if kind in ("code", "member"):
                inventory.append((kind, key, value))
            elif kind == "object":
                objects.append((key, value))
            elif kind == recorded.ROW_KIND:
                self.replays.restore(key, value)
            elif kind == "processed":
                env, promotion, name = key.split("|", 2)
                self._processed[(env, promotion, name)] = (value[0], value[1])
            elif kind == "report":
                self._history.append(value)
                self._report_seq = max(self._report_seq, int(key) + 1)
            elif kind == "upload" and value[1] in clients:
                bucket, _, object_key = key.partition("/")
                env, client, received = value
                self._restored_uploads.append(
                    Upload(bucket, object_key, env, clients[client], received)
                )
        self.inventory.restore(inventory)
        self.s3.restore(objects)

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None:
        """The next recorded reply (`promotions.recorded`) for this request, if there is one."""
        return self.replays.next(key, self._sink)

    def submit(self, upload: Upload) -> None:
        """Queue an upload for processing right after the S3 write succeeded. The previous
        report of the same key goes first, so a report present always answers the last upload."""
        stale = Report(upload.bucket, upload.key, upload.environment, "", "", 0)
        self.s3.delete_objects(upload.bucket, [stale.json_key, stale.errors_key])
        if self._sink.durable:  # processed after a restart if the server stops first
            row = [upload.environment, upload.client.name, upload.received_at]
            self._sink.put("upload", f"{upload.bucket}/{upload.key}", row)
        with self._lock:
            self._busy += 1
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="promotions-pipeline", daemon=True
                )
                self._worker.start()
        self._queue.put(upload)

    def _work(self) -> None:
        while True:
            upload = self._queue.get()
            if upload is None:
                return
            try:
                with self._sink.batch():  # the codes, the report and the dequeueing together
                    self.process(upload)
                    self._sink.delete("upload", f"{upload.bucket}/{upload.key}")
            except ObjectGone:  # the runtime closed under the upload
                log.info("processing %s stopped: the server state was reset", upload.key)
            except Exception:  # never lose the worker; the error is logged with the key
                log.exception("processing %s failed", upload.key)
            finally:
                with self._lock:
                    self._busy -= 1

    def process(self, upload: Upload) -> Report:
        report = Report(
            bucket=upload.bucket,
            key=upload.key,
            environment=upload.environment,
            client=upload.client.name,
            received_at=upload.received_at,
            max_errors=self.config.max_report_errors,
        )
        promo = pipeline.check_key(report, self.config, upload.client)
        if promo is not None:
            done_key = (upload.environment, promo.id, report.file_name)
            with self._lock:
                earlier = self._processed.get(done_key)
            if earlier is not None:
                report.file_error(
                    "duplicate_file", name=report.file_name, at=earlier[0], status=earlier[1]
                )
            else:
                self._read_rows(report, upload, promo)
                if report.accepted:  # a file that applied nothing may be fixed and re-sent
                    with self._lock:
                        done = (report.processed_at or iso(self.clock.now()), report.status)
                        self._processed[done_key] = done
                    self._sink.put("processed", "|".join(done_key), list(done))
        if promo is not None and report.inventory is None:
            report.inventory = self.inventory.summary(upload.environment, promo.id)
        report.processed_at = report.processed_at or iso(self.clock.now())
        self._publish(report)
        return report

    def _read_rows(self, report: Report, upload: Upload, promo: Any) -> None:
        fkey = self.s3.get_object(upload.bucket, upload.key)
        if fkey is None:
            report.file_error("object_gone")
            return

        def read(offset: int) -> bytes:
            return self.s3.read(fkey, offset)

        pipeline.run_rows(report, promo, self.inventory, read, upload.environment)
        report.processed_at = iso(self.clock.now())

    def _publish(self, report: Report) -> None:
        """Write the report (and the rejected lines) next to the upload, keep it for the admin."""
        self.s3.put_object(report.bucket, report.json_key, report.to_json(), "application/json")
        if report.rejected:
            self.s3.put_object(report.bucket, report.errors_key, report.errors_csv(), "text/csv")
        summary = report.to_dict()
        summary["reportKey"] = report.json_key
        with self._lock:
            self._history.append(summary)
            seq, self._report_seq = self._report_seq, self._report_seq + 1
        if self._sink.durable:
            self._sink.put("report", f"{seq:012d}", summary)
            if seq >= HISTORY:
                self._sink.delete("report", f"{seq - HISTORY:012d}")
        log.info("processed s3://%s/%s: %s", report.bucket, report.key, report.status)

    def claim(self, env: str, promotion_id: str, member: str) -> tuple[str | None, bool]:
        return self.inventory.claim(env, promotion_id, member)

    def low_inventory(self) -> list[dict[str, str]]:
        out = []
        for row in self.inventory.snapshot():
            promo = self.config.promotions.get(str(row["promotionId"]))
            available = row["available"]
            if promo is not None and isinstance(available, int) and available < promo.threshold:
                out.append(
                    {
                        "environment": str(row["environment"]),
                        **pipeline.low_inventory(promo, available),
                    }
                )
        return out

    def idle(self) -> bool:
        with self._lock:
            return self._busy == 0

    def admin_actions(self) -> dict[str, tuple[Callable[[dict[str, Any]], Any], str]]:
        """Run-time operations for POST /__admin/actions/promotions/<name>."""
        return {
            "enable-prod": (
                lambda body: self.set_prod_enabled(body, True),
                'Amazon enables Prod for a client: {"client": "<ClientName>"}; Devo keeps its state',
            ),
            "disable-prod": (
                lambda body: self.set_prod_enabled(body, False),
                'Prod writes are AccessDenied again: {"client": "<ClientName>"}',
            ),
        }

    def set_prod_enabled(self, body: dict[str, Any], enabled: bool) -> dict[str, Any]:
        """Switch a client's prod access in place (its policy is rebuilt; no other state moves).
        A reset or scenario switch goes back to the scenario's `prod_enabled`."""
        name = body.get("client")
        client = self.config.clients.get(name) if isinstance(name, str) else None
        if client is None:
            known = ", ".join(sorted(self.config.clients)) or "none"
            raise LookupError(f'give {{"client": <ClientName>}}, one of: {known}')
        if enabled and "prod" not in self.config.buckets:
            raise ValueError("the scenario has no prod bucket in promotions.environments")
        client.prod_enabled = enabled
        self.policies[client.access_key] = CompiledPolicy(client_policy(client, self.config))
        return {
            "client": client.name,
            "prodEnabled": enabled,
            "policy": client_policy(client, self.config),
        }

    def snapshot(self) -> dict[str, Any]:
        """Admin view: inventory per promotion, warnings, recent reports, buckets and policies."""
        with self._lock:
            reports = list(self._history)
        out = {
            "buckets": dict(self.config.buckets),
            "accountId": self.s3.account_id,
            "inventory": self.inventory.snapshot(),
            "warnings": self.low_inventory(),
            "reports": reports,
            "pending": 0 if self.idle() else self._queue.qsize() + 1,
            "policies": {
                c.name: client_policy(c, self.config) for c in self.config.clients.values()
            },
        }
        if self.replays.table:
            out["recorded"] = self.replays.snapshot()
        return out

    def close(self) -> None:
        worker = self._worker
        if worker is not None:
            self._queue.put(None)
            worker.join(timeout=5)
        self.s3.close()
