"""moto's S3, mounted in-process: lazy start, one process-wide lock, per-runtime isolation."""

from __future__ import annotations

import io
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

log = logging.getLogger("mocksrv")

# moto keeps every backend in process-global dicts and is not thread-safe, so one lock for the
# whole process (not per runtime) serialises every touch of moto, from requests and workers alike.
MOTO_LOCK = threading.RLock()
_HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive", "server", "date"}
# moto's own headers, which S3 never sends: mocksrv names the request id (x-amz-request-id);
# S3 sends CORS headers only to a request with an Origin, for a bucket with a CORS rule
_MOTO_ONLY = {"x-moto-account-id", "status", "x-amzn-requestid", "access-control-allow-origin"}
CHUNK = 1024 * 1024


class ObjectGone(Exception):
    """The object was replaced or deleted while it was being read."""


class MotoS3:
    """One runtime's S3 world inside moto.

    Isolation (two servers in one process must not see each other): each runtime gets its own
    random AWS account id (sent to moto as `x-moto-account-id`), and moto's global bucket-name
    registry is swapped for this runtime's own registry while the lock is held.
    """

    def __init__(self, region: str, buckets: list[str], account_id: str | None = None) -> None:
        self.region = region
        self.buckets = buckets
        self.account_id = account_id or "9" + "".join(str(secrets.randbelow(10)) for _ in range(11))
        self._registry: dict[str, tuple[str, str]] = {}
        self._app: Any = None
        self._closed = False

    @contextmanager
    def session(self) -> Iterator[Any]:
        """Hold the moto lock with this runtime's registry in place; yields its S3 backend."""
        with MOTO_LOCK:
            if self._closed:  # the runtime was replaced or stopped: its S3 world is gone
                raise ObjectGone()
            from moto.s3.models import s3_backends
            from moto.utilities.utils import get_partition

            saved = s3_backends.bucket_accounts
            s3_backends.bucket_accounts = self._registry
            try:
                backend = s3_backends[self.account_id][get_partition(self.region)]
                if self._app is None:
                    self._start(backend)
                yield backend
            finally:
                s3_backends.bucket_accounts = saved

    def adopt_account(self, account_id: str) -> None:
        """The account id the engine keeps for this tenant (before moto holds anything of it;
        a different one later means a new S3 world: the old one is dropped)."""
        if account_id == self.account_id:
            return
        with MOTO_LOCK:
            if self._app is not None:
                self._drop()
                self._app = None
            self.account_id = account_id

    def _start(self, backend: Any) -> None:
        from moto.moto_server.werkzeug_app import create_backend_app

        app = create_backend_app("s3")
        # moto turns Flask's debug mode on; in it Flask patches each request's `files` with a
        # closure over the request, a cycle that holds the body moto read until a later gc.
        # Exceptions still propagate (to dispatch's caller, which answers InternalError).
        app.debug = False
        app.config["PROPAGATE_EXCEPTIONS"] = True
        self._app = app
        self._create_buckets(backend)
        log.info("moto S3 started (account %s): %s", self.account_id, ", ".join(self.buckets))

    def _create_buckets(self, backend: Any) -> None:
        for bucket in self.buckets:
            backend.create_bucket(bucket, self.region)

    # -- a copy of S3 kept elsewhere (a SQL engine: `replica`), all with the session held ------

    def empty(self, backend: Any) -> None:
        """Every object and upload dropped; the scenario's buckets empty again."""
        for name in list(backend.buckets):
            bucket = backend.buckets[name]
            for fkey in list(bucket.keys.values()):
                if hasattr(fkey, "dispose"):
                    fkey.dispose()
            for upload in bucket.multiparts.values():
                upload.dispose()
            bucket.keys.clear()
            bucket.multiparts.clear()

    def forget(self, backend: Any, bucket: str, key: str) -> None:
        try:
            backend.delete_object(bucket, key)
        except Exception:  # absent already
            log.debug("no s3://%s/%s to forget", bucket, key)

    def put_back(
        self, backend: Any, bucket: str, key: str, data: bytes, etag: str, meta: dict[str, Any]
    ) -> None:
        if bucket not in self.buckets:
            return
        fkey = backend.put_object(bucket, key, data, etag=etag, disable_notification=True)
        fkey.set_metadata(dict(meta.get("metadata") or {}))
        if meta.get("lastModified"):
            fkey.last_modified = datetime.fromisoformat(meta["lastModified"]).replace(tzinfo=None)

    def set_upload(
        self, backend: Any, bucket: str, upload_id: str, key: str, meta: dict[str, Any] | None
    ) -> None:
        from moto.s3.models import FakeMultipart
        from moto.utilities.utils import CaseInsensitiveDict

        found = backend.buckets.get(bucket)
        if found is None:
            return
        if meta is None:
            old = found.multiparts.pop(upload_id, None)
            if old is not None:
                old.dispose()
            return
        if upload_id in found.multiparts:
            return
        upload = FakeMultipart(
            key, CaseInsensitiveDict(meta.get("metadata") or {}), self.account_id, self.region,
            storage=meta.get("storage"),
        )  # fmt: skip
        upload.id = upload_id
        found.multiparts[upload_id] = upload

    def set_part(self, backend: Any, bucket: str, upload_id: str, part: int, data: bytes) -> None:
        found = backend.buckets.get(bucket)
        upload = found.multiparts.get(upload_id) if found is not None else None
        if upload is not None:
            upload.set_part(part, data)

    def snapshot_object(self, bucket: str, key: str) -> tuple[bytes, str, dict[str, Any]] | None:
        """What moto holds for `bucket/key`: bytes, ETag and metadata (None: no object)."""
        fkey = self.get_object(bucket, key)
        if fkey is None:
            return None
        with MOTO_LOCK:  # FakeKey.value takes the key's own lock
            meta = {
                "metadata": dict(fkey.metadata),
                "lastModified": fkey.last_modified.replace(tzinfo=UTC).isoformat(),
            }
            return bytes(fkey.value), fkey.etag.strip('"'), meta

    def snapshot_upload(
        self, bucket: str, upload_id: str, part: int | None
    ) -> tuple[str, dict[str, Any], bytes | None] | None:
        """A multipart upload's key, metadata and one part's bytes (None: the upload is gone)."""
        with self.session() as backend:
            found = backend.buckets.get(bucket)
            upload = found.multiparts.get(upload_id) if found is not None else None
            if upload is None:
                return None
            meta = {"metadata": dict(upload.metadata), "storage": upload.storage}
            fkey = upload.parts.get(part) if part is not None else None
            return upload.key_name, meta, bytes(fkey.value) if fkey is not None else None

    def dispatch(
        self, environ: dict[str, Any], body: bytes | IO[bytes]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run one request through moto's S3 app; returns status, headers, buffered body. A
        large body is the server's file: moto reads it (into one bytes object of its own)."""
        environ = dict(environ)
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.account_id
        if environ.get("REQUEST_URI"):  # moto decodes keys from RAW_URI once; else twice
            environ["RAW_URI"] = environ["REQUEST_URI"]
        if isinstance(body, bytes):
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        else:  # rewound by Call.payload; CONTENT_LENGTH is the server's count of it
            environ["wsgi.input"] = body
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        with self.session():
            result = self._app(environ, start_response)
            try:
                data = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() not in _HOP_BY_HOP]
        headers = [(k, v) for k, v in headers if k.lower() not in _MOTO_ONLY]
        return int(captured["status"].split(" ", 1)[0]), headers, data

    def get_object(self, bucket: str, key: str) -> Any:
        with self.session() as backend:
            try:
                return backend.get_object(bucket, key)
            except Exception:  # NoSuchBucket, ...
                return None

    def read(self, fkey: Any, offset: int, size: int = CHUNK) -> bytes:
        """A slice of an object's bytes (moto keeps them in a spooled temp file)."""
        with MOTO_LOCK, fkey.lock:
            buf = getattr(fkey, "_value_buffer", None)
            try:
                if buf is None:
                    return bytes(fkey.value[offset : offset + size])
                buf.seek(offset)
                return bytes(buf.read(size))
            except ValueError:  # the buffer was closed: object replaced and disposed
                raise ObjectGone() from None

    def put_object(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        with self.session() as backend:
            fkey = backend.put_object(bucket, key, data, disable_notification=True)
            fkey.set_metadata({"Content-Type": content_type})

    def delete_objects(self, bucket: str, keys: list[str]) -> None:
        with self.session() as backend:
            for key in keys:
                try:
                    backend.delete_object(bucket, key)
                except Exception:  # absent: nothing to delete
                    log.debug("no %s to delete", key)

    def close(self) -> None:
        with MOTO_LOCK:
            if self._closed:
                return
            self._closed = True
            if self._app is None:
                return
            self._drop()

    def _drop(self) -> None:
        """This S3 world's objects disposed and its backend gone from moto (lock held)."""
        from moto.s3.models import FakeKey, FakeMultipart, s3_backends

        for partition in list(s3_backends.get(self.account_id, {}).keys()):
            backend = s3_backends[self.account_id][partition]
            for bucket in backend.buckets.values():
                for fkey in bucket.keys.values():
                    if isinstance(fkey, FakeKey):
                        fkey.dispose()
                for part in bucket.multiparts.values():
                    part.dispose()
        mine = self.account_id
        for cls in (FakeKey, FakeMultipart):
            tracked = getattr(cls, "instances_tracked", [])
            tracked[:] = [o for o in tracked if getattr(o, "account_id", None) != mine]
        s3_backends.pop(self.account_id, None)
