"""S3 on a SQL engine: the engine holds every acknowledged object and multipart upload; each
process's moto is a cache brought up to date before it serves an S3 request.

- A write a client makes goes through this process's moto (S3's protocol: ETags, multipart,
  errors), then what moto now holds for that key (or that upload) is committed to the engine with
  a new S3 version of the tenant; only then is the answer sent. If the commit fails, this
  process's moto is rebuilt from the engine before its next S3 request, so nothing unacknowledged
  is ever served. A client's write holds the copy (`writing`) from its moto call to its commit:
  no rebuild falls in between and drops what it wrote before it is committed.
- Before an S3 request, a process reads the tenant's S3 version (one row) and applies, in version
  order, what changed since it last looked.
- Bytes are kept in 1 MiB chunk rows (`s3_blobs`), so no statement moves a whole large object.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from mocksrv.services.promotions.s3 import CHUNK, MOTO_LOCK, MotoS3
from mocksrv.state.engine import Engine, StoreError, Tx

log = logging.getLogger("mocksrv")
TABLES = (
    "CREATE TABLE IF NOT EXISTS s3_state (tenant TEXT PRIMARY KEY, epoch {bigint} NOT NULL, "
    "version {bigint} NOT NULL, account TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS s3_objects (tenant TEXT NOT NULL, bucket TEXT NOT NULL, "
    "key TEXT NOT NULL, version {bigint} NOT NULL, etag TEXT, meta TEXT, blob TEXT, "
    "PRIMARY KEY (tenant, bucket, key))",
    "CREATE INDEX IF NOT EXISTS s3_objects_version ON s3_objects (tenant, version)",
    "CREATE TABLE IF NOT EXISTS s3_uploads (tenant TEXT NOT NULL, bucket TEXT NOT NULL, "
    "upload_id TEXT NOT NULL, key TEXT NOT NULL, version {bigint} NOT NULL, meta TEXT, "
    "PRIMARY KEY (tenant, bucket, upload_id))",
    "CREATE TABLE IF NOT EXISTS s3_parts (tenant TEXT NOT NULL, bucket TEXT NOT NULL, "
    "upload_id TEXT NOT NULL, part INTEGER NOT NULL, version {bigint} NOT NULL, "
    "blob TEXT NOT NULL, PRIMARY KEY (tenant, bucket, upload_id, part))",
    "CREATE TABLE IF NOT EXISTS s3_blobs (tenant TEXT NOT NULL, blob TEXT NOT NULL, "
    "n INTEGER NOT NULL, data {blob} NOT NULL, PRIMARY KEY (tenant, blob, n))",
)
_TABLES = ("s3_objects", "s3_uploads", "s3_parts", "s3_blobs")


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


class _Position:
    """Where a moto copy stands in the engine's S3 history: the (epoch, version) it holds."""

    def __init__(self) -> None:
        # held to bring the copy up to date, and by a client's write from its moto call to its
        # commit (re-entered: the write's own sync)
        self.lock = threading.RLock()
        self.seen = (-1, -1)


# Kept with the moto copy itself, which outlives runtimes (the engine's cache): a runtime built
# again (another process switched scenarios or started) goes on from where the copy stands. A
# position per runtime made each new runtime reload the copy from scratch, dropping objects
# that requests of the old runtime had written into it but not yet committed (their commit
# then stored them as deleted, and the upload was acknowledged).
_POSITIONS: weakref.WeakKeyDictionary[MotoS3, _Position] = weakref.WeakKeyDictionary()
_POSITIONS_LOCK = threading.Lock()


def _position(moto: MotoS3) -> _Position:
    with _POSITIONS_LOCK:
        found = _POSITIONS.get(moto)
        if found is None:
            found = _POSITIONS[moto] = _Position()
        return found


class Replica:
    """One tenant's S3 in the engine, and this process's moto kept up to date with it."""

    def __init__(self, engine: Engine, tenant: str, moto: MotoS3) -> None:
        self.engine = engine
        self.tenant = tenant
        self.moto = moto
        self._at = _position(moto)

    # -- life cycle ---------------------------------------------------------------------------

    @staticmethod
    def clear(tx: Tx, tenant: str) -> None:
        """Every object and upload gone; a new epoch makes every process reload (empty)."""
        for table in _TABLES:
            tx.run(f"DELETE FROM {table} WHERE tenant=?", (tenant,))
        tx.run("UPDATE s3_state SET epoch = epoch + 1 WHERE tenant=?", (tenant,))

    @staticmethod
    def seed(tx: Tx, tenant: str) -> None:
        """The tenant's S3: a new account id the first time (kept for the tenant's life)."""
        account = "9" + "".join(str(secrets.randbelow(10)) for _ in range(11))
        tx.run(
            "INSERT INTO s3_state VALUES (?, 1, 1, ?) ON CONFLICT (tenant) DO NOTHING",
            (tenant, account),
        )

    def invalidate(self) -> None:
        """This process's moto may hold what the engine does not: reload it all next time."""
        with self._at.lock:
            self._at.seen = (-1, -1)

    def writing(self) -> threading.RLock:
        """Held by a client's write from its moto call to its commit. Without it, a reload of
        the copy in between (after another request's failed commit) dropped the object; the
        commit then stored it as deleted and the upload was acknowledged, to be processed as
        `object_gone`."""
        return self._at.lock

    # -- reading: bring moto up to date ------------------------------------------------------

    def sync(self) -> None:
        with self.engine.read() as tx:
            row = tx.one(
                "SELECT epoch, version, account FROM s3_state WHERE tenant=?", (self.tenant,)
            )
        if row is None:
            return  # nothing installed yet
        seen, at = (int(row[0]), int(row[1])), self._at
        if seen == at.seen:
            return
        with at.lock:
            if seen == at.seen:
                return
            # a new epoch (a reset), or another account (moto then drops its world): all again
            full = seen[0] != at.seen[0] or self.moto.account_id != str(row[2])
            self.moto.adopt_account(str(row[2]))
            with self.engine.read() as tx:
                self._apply(tx, 0 if full else at.seen[1], full)
            at.seen = seen

    def _apply(self, tx: Tx, since: int, full: bool) -> None:
        t = self.tenant
        objects = tx.all(
            "SELECT bucket, key, etag, meta, blob FROM s3_objects WHERE tenant=? AND version > ? "
            "ORDER BY version",
            (t, since),
        )
        uploads = tx.all(
            "SELECT bucket, upload_id, key, meta FROM s3_uploads WHERE tenant=? AND version > ? "
            "ORDER BY version",
            (t, since),
        )
        parts = tx.all(
            "SELECT bucket, upload_id, part, blob FROM s3_parts WHERE tenant=? AND version > ? "
            "ORDER BY version",
            (t, since),
        )
        with self.moto.session() as backend:
            if full:
                self.moto.empty(backend)
            for bucket, key, etag, meta, blob in objects:
                if blob is None:
                    self.moto.forget(backend, bucket, key)
                else:
                    data = self._read_blob(tx, blob)
                    self.moto.put_back(backend, bucket, key, data, etag, json.loads(meta))
            for bucket, upload_id, key, meta in uploads:
                self.moto.set_upload(backend, bucket, upload_id, key, meta and json.loads(meta))
            for bucket, upload_id, part, blob in parts:
                self.moto.set_part(backend, bucket, upload_id, part, self._read_blob(tx, blob))

    def _read_blob(self, tx: Tx, blob: str) -> bytes:
        rows = tx.all(
            "SELECT data FROM s3_blobs WHERE tenant=? AND blob=? ORDER BY n", (self.tenant, blob)
        )
        return b"".join(bytes(r[0]) for r in rows)

    # -- writing: what moto now holds, committed ----------------------------------------------

    def _bump(self, tx: Tx) -> int:
        row = tx.one(
            "UPDATE s3_state SET version = version + 1 WHERE tenant=? RETURNING version",
            (self.tenant,),
        )
        if row is None:
            raise LookupError(f"no S3 state for tenant {self.tenant!r}")
        return int(row[0])

    def _write_blob(self, tx: Tx, data: bytes) -> str:
        blob = secrets.token_hex(16)
        tx.many(
            "INSERT INTO s3_blobs VALUES (?, ?, ?, ?)",
            ((self.tenant, blob, n, chunk) for n, chunk in enumerate(_chunks(data))),
        )
        return blob

    def _drop_blob(self, tx: Tx, blob: str | None) -> None:
        if blob:
            tx.run("DELETE FROM s3_blobs WHERE tenant=? AND blob=?", (self.tenant, blob))

    def write(
        self, tx: Tx, bucket: str, key: str, data: bytes | None, etag: str = "",
        meta: dict[str, Any] | None = None,
    ) -> int:  # fmt: skip
        """Commit one object's bytes and metadata (None: it was deleted); returns the version."""
        version = self._bump(tx)
        old = tx.one(
            "SELECT blob FROM s3_objects WHERE tenant=? AND bucket=? AND key=?",
            (self.tenant, bucket, key),
        )
        self._drop_blob(tx, old[0] if old else None)
        blob = self._write_blob(tx, data) if data is not None else None
        tx.run(
            "INSERT INTO s3_objects VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, bucket, key) "
            "DO UPDATE SET version=excluded.version, etag=excluded.etag, meta=excluded.meta, "
            "blob=excluded.blob",
            (self.tenant, bucket, key, version, etag, json.dumps(meta or {}), blob),
        )
        return version

    def write_new(self, tx: Tx, bucket: str, key: str, data: bytes, content_type: str) -> None:
        """An object mocksrv itself writes (a report): S3's plain-PUT ETag, written now."""
        meta = {
            "metadata": {"Content-Type": content_type},
            "lastModified": datetime.now(UTC).isoformat(),
        }
        self.write(tx, bucket, key, data, hashlib.md5(data).hexdigest(), meta)

    def capture(self, tx: Tx, bucket: str, key: str) -> None:
        """Commit what this process's moto holds for `bucket/key` after a client's write."""
        found = self.moto.snapshot_object(bucket, key)
        if found is None:  # every captured write leaves an object: never commit it as deleted
            raise StoreError(f"{bucket}/{key} is not in this process's S3 after its write")
        data, etag, meta = found
        self.write(tx, bucket, key, data, etag, meta)

    def capture_uploads(self, tx: Tx, bucket: str, upload_id: str, part: int | None) -> None:
        """Commit a multipart upload's change: created, a part added, or gone (completed or
        aborted)."""
        version = self._bump(tx)
        found = self.moto.snapshot_upload(bucket, upload_id, part)
        t = (self.tenant, bucket, upload_id)
        if found is None:  # completed or aborted: its parts go too
            for (blob,) in tx.all(
                "SELECT blob FROM s3_parts WHERE tenant=? AND bucket=? AND upload_id=?", t
            ):
                self._drop_blob(tx, blob)
            tx.run("DELETE FROM s3_parts WHERE tenant=? AND bucket=? AND upload_id=?", t)
            tx.run(
                "INSERT INTO s3_uploads VALUES (?, ?, ?, '', ?, NULL) ON CONFLICT "
                "(tenant, bucket, upload_id) DO UPDATE SET version=excluded.version, meta=NULL",
                (*t, version),
            )
            return
        key, meta, part_data = found
        tx.run(
            "INSERT INTO s3_uploads VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT "
            "(tenant, bucket, upload_id) DO UPDATE SET version=excluded.version, meta=excluded.meta",
            (*t, key, version, json.dumps(meta)),
        )
        if part is not None and part_data is not None:
            old = tx.one(
                "SELECT blob FROM s3_parts WHERE tenant=? AND bucket=? AND upload_id=? AND part=?",
                (*t, part),
            )
            self._drop_blob(tx, old[0] if old else None)
            tx.run(
                "INSERT INTO s3_parts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT "
                "(tenant, bucket, upload_id, part) DO UPDATE SET version=excluded.version, "
                "blob=excluded.blob",
                (*t, part, version, self._write_blob(tx, part_data)),
            )

    def read_object(self, bucket: str, key: str) -> bytes | None:
        """An object's bytes from the engine (the pipeline reads the upload it processes)."""
        with self.engine.read() as tx:
            row = tx.one(
                "SELECT blob FROM s3_objects WHERE tenant=? AND bucket=? AND key=?",
                (self.tenant, bucket, key),
            )
            if row is None or row[0] is None:
                return None
            return self._read_blob(tx, row[0])

    def close(self) -> None:
        with MOTO_LOCK:
            self.moto.close()
