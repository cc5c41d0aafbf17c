"""The promotions store on a SQL engine: S3 objects and uploads in the engine, processed exactly
once by whichever process holds the upload's lease.

An acknowledged upload is a row of the queue, committed with its object. A processor (a thread in
every process) leases one upload at a time; its codes, report, history entry and "done" mark
commit in one transaction that also removes the upload from the queue, only if the lease is still
its own. A processor that dies commits nothing, and its lease runs out for another to take over.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import AbstractContextManager
from typing import IO, Any

from mocksrv.api import StoreBase
from mocksrv.clock import ScenarioClock, iso
from mocksrv.services import recorded
from mocksrv.services.promotions import pipeline
from mocksrv.services.promotions.access import CompiledPolicy, client_policy
from mocksrv.services.promotions.config import PromotionsConfig
from mocksrv.services.promotions.holders import dead, holder
from mocksrv.services.promotions.models import HISTORY, Upload
from mocksrv.services.promotions.replica import Replica
from mocksrv.services.promotions.reports import Report
from mocksrv.services.promotions.s3 import MotoS3
from mocksrv.services.promotions.sqlinventory import SqlInventory
from mocksrv.state.engine import Engine, StoreError, Tx

log = logging.getLogger("mocksrv")
LEASE = 15.0  # seconds an upload stays with its processor unless renewed
RENEW = 5.0  # seconds between renewals while a file is being read
POLL = 1.0  # seconds between looks at the queue when nothing woke the processor
TABLES = (
    "CREATE TABLE IF NOT EXISTS promo_uploads (tenant TEXT NOT NULL, bucket TEXT NOT NULL, "
    "key TEXT NOT NULL, env TEXT NOT NULL, client TEXT NOT NULL, received TEXT NOT NULL, "
    "queued {real} NOT NULL, holder TEXT, lease {real}, PRIMARY KEY (tenant, bucket, key))",
    "CREATE TABLE IF NOT EXISTS promo_processed (tenant TEXT NOT NULL, env TEXT NOT NULL, "
    "promotion TEXT NOT NULL, file TEXT NOT NULL, at TEXT NOT NULL, status TEXT NOT NULL, "
    "PRIMARY KEY (tenant, env, promotion, file)){norowid}",
    "CREATE TABLE IF NOT EXISTS promo_reports (id {serial}, tenant TEXT NOT NULL, "
    "summary TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS promo_reports_tenant ON promo_reports (tenant, id)",
    "CREATE TABLE IF NOT EXISTS promo_prod (tenant TEXT NOT NULL, client TEXT NOT NULL, "
    "enabled INTEGER NOT NULL, PRIMARY KEY (tenant, client)){norowid}",
)


class SqlPromotionsStore(StoreBase):
    """The promotions emulation's state for one tenant, in a SQL engine."""

    def __init__(
        self, config: PromotionsConfig, clock: ScenarioClock, engine: Engine, tenant: str,
        moto: MotoS3,
    ) -> None:  # fmt: skip
        self.config = config
        self.clock = clock
        self.engine = engine
        self.tenant = tenant
        self.replica = Replica(engine, tenant, moto)
        self.s3 = moto
        self.inventory = SqlInventory(engine, tenant)
        self.policies = {c.access_key: CompiledPolicy(client_policy(c, config))
                         for c in config.clients.values()}  # fmt: skip
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.replays = recorded.SqlReplays(config.recorded, engine, tenant, "promotions")

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None:
        """The next recorded reply (`promotions.recorded`) for this request, if there is one."""
        return self.replays.next(key)

    # -- life cycle ---------------------------------------------------------------------------

    def clear(self, tx: Tx) -> None:
        for table in ("promo_uploads", "promo_processed", "promo_reports", "promo_prod"):
            tx.run(f"DELETE FROM {table} WHERE tenant=?", (self.tenant,))
        self.inventory.clear(tx)
        self.replays.clear(tx)
        Replica.clear(tx, self.tenant)

    def seed(self, tx: Tx) -> None:
        pools = [
            (env, promo.id, promo.preload.get(env, []))
            for promo in self.config.promotions.values()
            for env in self.config.buckets
        ]
        self.inventory.seed(tx, pools)
        Replica.seed(tx, self.tenant)

    def start(self) -> None:
        """Bring in what the engine holds: the prod switches; free the leases of processes of
        this machine that died (a restart after a kill need not wait for them); start the
        processor."""
        with self.engine.write() as tx:
            for (holder,) in tx.all(
                "SELECT DISTINCT holder FROM promo_uploads WHERE tenant=? AND holder IS NOT NULL",
                (self.tenant,),
            ):
                if dead(holder):
                    tx.run(
                        "UPDATE promo_uploads SET holder=NULL, lease=NULL WHERE tenant=? AND "
                        "holder=?",
                        (self.tenant, holder),
                    )
        with self.engine.read() as tx:
            for client, enabled in tx.all(
                "SELECT client, enabled FROM promo_prod WHERE tenant=?", (self.tenant,)
            ):
                found = self.config.clients.get(client)
                if found is not None:
                    found.prod_enabled = bool(enabled)
                    self.policies[found.access_key] = CompiledPolicy(
                        client_policy(found, self.config)
                    )
        self._worker = threading.Thread(target=self._work, name="promotions-queue", daemon=True)
        self._worker.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=10)

    # -- S3 requests (the service's calls) ---------------------------------------------------

    def dispatch(self, environ: dict[str, Any], body: bytes | IO[bytes]) -> tuple[int, list, bytes]:
        self.replica.sync()
        return self.s3.dispatch(environ, body)

    def writing(self) -> AbstractContextManager[Any]:
        """A client's write holds this from its moto call to its commit: no reload of this
        process's moto (after a failed commit, a reset) drops what it put there meanwhile."""
        return self.replica.writing()

    def written(self, op: str, bucket: str, key: str, query: dict[str, str], data: bytes,
                upload: Upload | None) -> None:  # fmt: skip
        """Commit what a client's successful write left in this process's moto (and queue the
        upload it completes) before the answer goes out."""
        try:
            with self.engine.write() as tx:
                if op in ("CreateMultipartUpload", "UploadPart", "UploadPartCopy",
                          "AbortMultipartUpload"):  # fmt: skip
                    upload_id = query.get("uploadId") or _upload_id(data)
                    part = int(query["partNumber"]) if "partNumber" in query else None
                    self.replica.capture_uploads(tx, bucket, upload_id, part)
                    return
                self.replica.capture(tx, bucket, key)
                if op == "CompleteMultipartUpload":
                    self.replica.capture_uploads(tx, bucket, query.get("uploadId", ""), None)
                if upload is not None:
                    self._enqueue(tx, upload)
        except StoreError:
            self.replica.invalidate()  # moto holds what the engine refused: reload it all
            raise
        self._wake.set()

    def _enqueue(self, tx: Tx, upload: Upload) -> None:
        stale = Report(upload.bucket, upload.key, upload.environment, "", "", 0)
        for name in (stale.json_key, stale.errors_key):
            found = tx.one(
                "SELECT blob FROM s3_objects WHERE tenant=? AND bucket=? AND key=?",
                (self.tenant, upload.bucket, name),
            )
            if found is not None and found[0] is not None:
                self.replica.write(tx, upload.bucket, name, None)
        tx.run(
            "INSERT INTO promo_uploads VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL) ON CONFLICT "
            "(tenant, bucket, key) DO UPDATE SET env=excluded.env, client=excluded.client, "
            "received=excluded.received, queued=excluded.queued, holder=NULL, lease=NULL",
            (self.tenant, upload.bucket, upload.key, upload.environment, upload.client.name,
             upload.received_at, time.time()),
        )  # fmt: skip

    def claim(self, env: str, promotion_id: str, member: str) -> tuple[str | None, bool]:
        return self.inventory.claim(env, promotion_id, member)

    # -- the processor -------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._lease()
            except StoreError:
                job = None
            if job is None:
                self._wake.wait(POLL)
                self._wake.clear()
                continue
            try:
                self.process(job)
            except StoreError as exc:
                log.warning("processing %s not committed (%s); it will be retried", job.key, exc)
            except Exception:
                log.exception("processing %s failed", job.key)

    def _lease(self) -> Upload | None:
        now = time.time()
        clients = {c.name: c for c in self.config.clients.values()}
        with self.engine.write() as tx:
            row = tx.one(
                "SELECT bucket, key, env, client, received FROM promo_uploads WHERE tenant=? AND "
                "(holder IS NULL OR lease < ?) ORDER BY queued LIMIT 1{skip_locked}",
                (self.tenant, now),
            )
            if row is None:
                return None
            bucket, key, env, client, received = row
            tx.run(
                "UPDATE promo_uploads SET holder=?, lease=? WHERE tenant=? AND bucket=? AND key=?",
                (holder(), now + LEASE, self.tenant, bucket, key),
            )
            if client not in clients:  # the scenario no longer has the client: drop it
                tx.run(
                    "DELETE FROM promo_uploads WHERE tenant=? AND bucket=? AND key=?",
                    (self.tenant, bucket, key),
                )
                return None
        return Upload(bucket, key, env, clients[client], received)

    def _renew(self, upload: Upload) -> None:
        with self.engine.write() as tx:
            tx.run(
                "UPDATE promo_uploads SET lease=? WHERE tenant=? AND bucket=? AND key=? AND "
                "holder=?",
                (time.time() + LEASE, self.tenant, upload.bucket, upload.key, holder()),
            )

    def process(self, upload: Upload) -> Report:
        report = Report(
            bucket=upload.bucket, key=upload.key, environment=upload.environment,
            client=upload.client.name, received_at=upload.received_at,
            max_errors=self.config.max_report_errors,
        )  # fmt: skip
        promo = pipeline.check_key(report, self.config, upload.client)
        staged: tuple[str, list[str]] | None = None
        if promo is not None:
            earlier = self._earlier(upload.environment, promo.id, report.file_name)
            if earlier is not None:
                report.file_error("duplicate_file", name=report.file_name, at=earlier[0],
                                  status=earlier[1])  # fmt: skip
            else:
                staged = self._read_rows(report, upload, promo)
        report.processed_at = report.processed_at or iso(self.clock.now())
        self._commit(report, upload, promo, staged)
        return report

    def _earlier(self, env: str, promotion: str, file: str) -> tuple[str, str] | None:
        with self.engine.read() as tx:
            row = tx.one(
                "SELECT at, status FROM promo_processed WHERE tenant=? AND env=? AND promotion=? "
                "AND file=?",
                (self.tenant, env, promotion, file),
            )
        return (str(row[0]), str(row[1])) if row is not None else None

    def _read_rows(
        self, report: Report, upload: Upload, promo: Any
    ) -> tuple[str, list[str]] | None:
        """Run the row checks against the pool as committed; returns what to apply."""
        data = self.replica.read_object(upload.bucket, upload.key)
        if data is None:
            report.file_error("object_gone")
            return None
        pool = self.inventory.load(upload.environment, promo.id)
        renewed = [time.monotonic()]

        def read(offset: int) -> bytes:
            if time.monotonic() - renewed[0] > RENEW:
                self._renew(upload)
                renewed[0] = time.monotonic()
            return data[offset : offset + 1024 * 1024]

        staged = pipeline.check_rows(report, promo, pool, read)
        report.processed_at = iso(self.clock.now())
        return staged

    def _commit(
        self, report: Report, upload: Upload, promo: Any, staged: tuple[str, list[str]] | None
    ) -> None:
        with self.engine.write() as tx:
            gone = tx.run(
                "DELETE FROM promo_uploads WHERE tenant=? AND bucket=? AND key=? AND holder=?",
                (self.tenant, upload.bucket, upload.key, holder()),
            )
            if not gone:  # another processor has it now, or a newer upload replaced it
                raise StoreError(f"the lease on {upload.key} was lost")
            if promo is not None and staged is not None and report.accepted:
                kind, codes = staged
                if kind == "new":
                    self.inventory.add_new(tx, upload.environment, promo.id, codes)
                else:
                    self.inventory.mark_redeemed(tx, upload.environment, promo.id, codes)
                tx.run(
                    "INSERT INTO promo_processed VALUES (?, ?, ?, ?, ?, ?)",
                    (self.tenant, upload.environment, promo.id, report.file_name,
                     report.processed_at, report.status),
                )  # fmt: skip
            if promo is not None:
                report.inventory = self.inventory.summary(upload.environment, promo.id, tx)
                available = report.inventory["available"]
                if available < promo.threshold and not report.warnings:
                    report.warnings.append(pipeline.low_inventory(promo, available))
            self._publish(tx, report)
        log.info("processed s3://%s/%s: %s", report.bucket, report.key, report.status)

    def _publish(self, tx: Tx, report: Report) -> None:
        self.replica.write_new(tx, report.bucket, report.json_key, report.to_json(),
                               "application/json")  # fmt: skip
        if report.rejected:
            self.replica.write_new(tx, report.bucket, report.errors_key, report.errors_csv(),
                                   "text/csv")  # fmt: skip
        summary = report.to_dict()
        summary["reportKey"] = report.json_key
        tx.run(
            "INSERT INTO promo_reports (tenant, summary) VALUES (?, ?)",
            (self.tenant, json.dumps(summary)),
        )
        tx.run(
            "DELETE FROM promo_reports WHERE tenant=? AND id <= (SELECT id FROM promo_reports "
            "WHERE tenant=? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (self.tenant, self.tenant, HISTORY),
        )

    # -- admin ---------------------------------------------------------------------------------

    def low_inventory(self) -> list[dict[str, str]]:
        out = []
        for row in self.inventory.snapshot():
            promo = self.config.promotions.get(str(row["promotionId"]))
            if promo is not None and row["available"] < promo.threshold:
                warning = pipeline.low_inventory(promo, row["available"])
                out.append({"environment": str(row["environment"]), **warning})
        return out

    def admin_actions(self) -> dict[str, tuple[Any, str]]:
        from mocksrv.services.promotions.models import admin_actions

        return admin_actions(self.set_prod_enabled)

    def set_prod_enabled(self, body: dict[str, Any], enabled: bool) -> dict[str, Any]:
        from mocksrv.services.promotions.models import prod_switch

        client = prod_switch(self.config, body, enabled)
        with self.engine.write() as tx:
            tx.run(
                "INSERT INTO promo_prod VALUES (?, ?, ?) ON CONFLICT (tenant, client) "
                "DO UPDATE SET enabled=excluded.enabled",
                (self.tenant, client.name, int(enabled)),
            )
            tx.control_changed()  # every process rebuilds its policies
            tx.run("UPDATE control SET generation=generation+1 WHERE tenant=?", (self.tenant,))
        client.prod_enabled = enabled
        self.policies[client.access_key] = CompiledPolicy(client_policy(client, self.config))
        return {"client": client.name, "prodEnabled": enabled,
                "policy": client_policy(client, self.config)}  # fmt: skip

    def snapshot(self, now: Any = None) -> dict[str, Any]:
        with self.engine.read() as tx:
            reports = [
                json.loads(r[0])
                for r in tx.all(
                    "SELECT summary FROM promo_reports WHERE tenant=? ORDER BY id", (self.tenant,)
                )
            ]
            pending = tx.one("SELECT count(*) FROM promo_uploads WHERE tenant=?", (self.tenant,))
        out = {
            "buckets": dict(self.config.buckets),
            "accountId": self.s3.account_id,
            "inventory": self.inventory.snapshot(),
            "warnings": self.low_inventory(),
            "reports": reports,
            "pending": int(pending[0]) if pending else 0,
            "policies": {
                c.name: client_policy(c, self.config) for c in self.config.clients.values()
            },
        }
        if self.replays.table:
            out["recorded"] = self.replays.snapshot()
        return out


def _upload_id(data: bytes) -> str:
    start = data.find(b"<UploadId>")
    end = data.find(b"</UploadId>")
    return data[start + 10 : end].decode() if 0 <= start < end else ""
