"""Promotions state for one runtime: inventory, processed files, reports, the background worker."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, Any, Protocol

from mocksrv.api import StoreBase
from mocksrv.clock import ScenarioClock, iso
from mocksrv.services import recorded
from mocksrv.services.promotions import pipeline
from mocksrv.services.promotions.access import CompiledPolicy, client_policy
from mocksrv.services.promotions.config import Client, PromotionsConfig
from mocksrv.services.promotions.inventory import Inventory
from mocksrv.services.promotions.reports import Report
from mocksrv.services.promotions.s3 import MotoS3, ObjectGone

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


class PromotionsStore(Protocol):
    """What the promotions services and the admin API call on a store (memory or SQL)."""

    config: PromotionsConfig
    policies: dict[str, CompiledPolicy]
    s3: MotoS3
    replays: recorded.Replays

    def dispatch(
        self, environ: dict[str, Any], body: bytes | IO[bytes]
    ) -> tuple[int, list, bytes]: ...

    def writing(self) -> AbstractContextManager[Any]:
        """Held by a client's write from its moto call to its `written`."""
        ...

    def written(self, op: str, bucket: str, key: str, query: dict[str, str], data: bytes,
                upload: Upload | None) -> None: ...  # fmt: skip

    def claim(self, env: str, promotion_id: str, member: str) -> tuple[str | None, bool]: ...

    def snapshot(self, now: Any = None) -> dict[str, Any]: ...

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None: ...


class MemoryPromotionsStore(StoreBase):
    """The memory engine's promotions store: inventory, processed files, reports, the worker;
    `snapshot()` is the admin view."""

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
        self.replays = recorded.Replays(config.recorded)
        with self.inventory.lock:  # every configured pool shows in the admin view from the start
            for promo in config.promotions.values():
                for env in config.buckets:
                    pool = self.inventory.pool(env, promo.id)
                    self.inventory.commit_new(pool, promo.preload.get(env, []))

    # -- S3 requests (the service's calls) ---------------------------------------------------

    def dispatch(self, environ: dict[str, Any], body: bytes | IO[bytes]) -> tuple[int, list, bytes]:
        return self.s3.dispatch(environ, body)

    def writing(self) -> AbstractContextManager[Any]:
        return contextlib.nullcontext()  # moto is the whole truth here: nothing reloads it

    def written(self, op: str, bucket: str, key: str, query: dict[str, str], data: bytes,
                upload: Upload | None) -> None:  # fmt: skip
        """A client's write succeeded (moto holds it): queue the upload it completes."""
        if upload is not None:
            self.submit(upload)

    def start(self) -> None:
        pass

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None:
        """The next recorded reply (`promotions.recorded`) for this request, if there is one."""
        return self.replays.next(key)

    def submit(self, upload: Upload) -> None:
        """Queue an upload for processing right after the S3 write succeeded. The previous
        report of the same key goes first, so a report present always answers the last upload."""
        stale = Report(upload.bucket, upload.key, upload.environment, "", "", 0)
        self.s3.delete_objects(upload.bucket, [stale.json_key, stale.errors_key])
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
                self.process(upload)
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
        """Write the report (and the rejected lines) next to the upload, keep it for the admin.
        The rejected lines first: a client that sees the report finds them there too (the SQL
        store writes both in one transaction)."""
        if report.rejected:
            self.s3.put_object(report.bucket, report.errors_key, report.errors_csv(), "text/csv")
        self.s3.put_object(report.bucket, report.json_key, report.to_json(), "application/json")
        summary = report.to_dict()
        summary["reportKey"] = report.json_key
        with self._lock:
            self._history.append(summary)
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
        return admin_actions(self.set_prod_enabled)

    def set_prod_enabled(self, body: dict[str, Any], enabled: bool) -> dict[str, Any]:
        """Switch a client's prod access in place (its policy is rebuilt; no other state moves).
        A reset or scenario switch goes back to the scenario's `prod_enabled`."""
        client = prod_switch(self.config, body, enabled)
        client.prod_enabled = enabled
        self.policies[client.access_key] = CompiledPolicy(client_policy(client, self.config))
        return {
            "client": client.name,
            "prodEnabled": enabled,
            "policy": client_policy(client, self.config),
        }

    def snapshot(self, now: Any = None) -> dict[str, Any]:
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


def admin_actions(
    switch: Callable[[dict[str, Any], bool], Any],
) -> dict[str, tuple[Callable[[dict[str, Any]], Any], str]]:
    """Run-time operations for POST /__admin/actions/promotions/<name>."""
    return {
        "enable-prod": (
            lambda body: switch(body, True),
            'Amazon enables Prod for a client: {"client": "<ClientName>"}; Devo keeps its state',
        ),
        "disable-prod": (
            lambda body: switch(body, False),
            'Prod writes are AccessDenied again: {"client": "<ClientName>"}',
        ),
    }


def prod_switch(config: PromotionsConfig, body: dict[str, Any], enabled: bool) -> Client:
    """The client an enable-prod or disable-prod action names (LookupError, ValueError)."""
    name = body.get("client")
    client = config.clients.get(name) if isinstance(name, str) else None
    if client is None:
        known = ", ".join(sorted(config.clients)) or "none"
        raise LookupError(f'give {{"client": <ClientName>}}, one of: {known}')
    if enabled and "prod" not in config.buckets:
        raise ValueError("the scenario has no prod bucket in promotions.environments")
    return client
