"""HTTP surface of the promo-code buckets on the shared pipeline: classify -> anonymous and
header checks -> body cap -> SigV4 -> IAM policy -> faults -> moto -> the upload queue."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any
from urllib.parse import unquote

from mocksrv import sigv4
from mocksrv.call import Call
from mocksrv.clock import iso
from mocksrv.http import Response, has_control
from mocksrv.services.base import ApiService, Route
from mocksrv.services.promotions import exceptions as exc
from mocksrv.services.promotions.access import S3Target, classify
from mocksrv.services.promotions.auth import authenticate
from mocksrv.services.promotions.config import NEW_PREFIX, REDEEMED_PREFIX
from mocksrv.services.promotions.models import PromotionsStore, Upload
from mocksrv.state.engine import StoreError

log = logging.getLogger("mocksrv")
WRITES = ("PutObject", "CopyObject", "CompleteMultipartUpload", "PostObject")
# writes that change a multipart upload (a SQL engine commits them too: any process may get
# the next part); AbortMultipartUpload answers 204
UPLOAD_STEPS = ("CreateMultipartUpload", "UploadPart", "UploadPartCopy", "AbortMultipartUpload")
_ERROR_CODE = re.compile(rb"<Code>([A-Za-z0-9.]+)</Code>")
_REQUEST_ID = re.compile(rb"<RequestId>[^<]*</RequestId>")
_HOST_ID = re.compile(rb"<HostId>[^<]*</HostId>")


def _anonymous(call: Call) -> bool:
    """Neither signed nor presigned: S3 refuses it (AccessDenied) whatever its body."""
    query = call.query_string
    return not call.headers.get("authorization") and not ("X-Amz-" in query or "AWSAccess" in query)


def principal_key(ident: sigv4.Identity) -> str:
    """The access key whose policy applies: an assumed-role session acts as its role's client."""
    return str(ident.extra.get("policy_of") or ident.access_key)


class PromotionsService(ApiService):
    """S3 for the promo-code buckets: scope `s3`, and the fallback for unsigned and unknown
    requests (the landing page is `LandingService`, in `landing.py`)."""

    api = "promotions"
    scope = "s3"
    wire_error = exc.S3Error
    streams_body = True  # an object's bytes go to moto from the server's file, not as one copy

    def __init__(self, store: PromotionsStore, policy: sigv4.VerifyPolicy, max_body: int) -> None:
        super().__init__(policy)
        self.store = store
        self.max_body = max_body

    def describe(self, url: str) -> list[str]:
        host = url.split("://", 1)[1]
        buckets = ", ".join(f"{env}: {b}" for env, b in self.store.config.buckets.items())
        return [
            f"Promotions S3      {url}  (path-style, or http://<bucket>.localhost:{host.rsplit(':', 1)[1]};"
            f" SigV4 s3; {buckets})",
            f"Promotions landing {url}/promotions/{{promotion-id}}/landing?member={{member-id}}",
        ]

    def __call__(self, call: Call) -> Response:
        # S3 names the request id x-amz-request-id, and sends its extended id, x-amz-id-2, on
        # every answer
        call.id_header = "x-amz-request-id"
        resp = ApiService.__call__(self, call)
        resp.headers["x-amz-id-2"] = exc.host_id(call.request_id)
        return resp

    # -- the pipeline's steps -----------------------------------------------------------------

    def route(self, call: Call) -> Route:
        copy_source = call.headers.get("x-amz-copy-source", "")
        target = classify(
            call.method, call.headers.get("host", ""), call.raw_path, call.query_string, copy_source
        )
        call.fields.update({"bucket": target.bucket, "key": target.key})
        return Route(target.operation, {"target": target, "copy_source": copy_source})

    def precheck(self, call: Call, route: Route) -> None:
        if _anonymous(call):
            raise exc.AccessDenied()  # refused before its body is read
        if any(has_control(value) for _, value in call.headers.items()):
            # moto echoes some headers (x-amz-meta-*) back: a CR there would split the answer
            raise exc.InvalidArgument("Header values may not contain control characters")

    def body_limit(self, call: Call) -> int:
        return self.max_body

    def body_cap(self, call: Call) -> int:
        return 0 if _anonymous(call) else self.max_body  # anonymous: refused, so none is read

    def body_too_large(self, message: str, limit: int | None) -> Exception:
        return exc.EntityTooLarge()

    def field_too_large(self, message: str, name: str) -> Exception:
        return exc.RequestHeaderSectionTooLarge()

    def authenticate(self, call: Call, route: Route) -> sigv4.Identity:
        return authenticate(call, self.policy, self.store.config.region)

    def authorize(self, call: Call, route: Route, ident: sigv4.Identity) -> None:
        self._authorize(ident, route.params["target"], route.params["copy_source"])

    def operate(self, call: Call, route: Route, ident: sigv4.Identity, _: Any) -> Response:
        target: S3Target = route.params["target"]
        if self.store.replays.table:
            reply = self.store.recorded_reply((target.operation, target.bucket, target.key))
            if reply is not None:
                call.outcome = "recorded"
                return reply.response()
        op = target.operation
        writes = bool(op in WRITES and target.key or op in UPLOAD_STEPS)
        with self.store.writing() if writes else contextlib.nullcontext():
            try:
                status, headers, data = self.store.dispatch(call.environ, call.payload())
            except StoreError:
                raise
            except Exception:  # a moto bug must still answer in S3's shape, never a traceback
                log.exception("moto failed on %s %s", call.method, call.raw_path[:200])
                raise exc.InternalError() from None
            call.outcome = "OK" if status < 300 else self._moto_error(data, status)
            if status < 300 and writes:
                upload = self._upload(call, ident, target) if op in WRITES else None
                self.store.written(op, target.bucket, target.key, call.query(), data, upload)
        return self._shaped(call, status, headers, data)

    def render_error(self, call: Call, err: Any, route: Route | None) -> Response:
        return Response(
            err.to_xml(call.request_id), status=err.status, content_type="application/xml"
        )

    def render_named_error(self, call: Call, name: str, route: Route | None) -> Response:
        err = exc.ERRORS.get(name, exc.InternalError)()
        return Response(err.to_xml("injected"), status=err.status, content_type="application/xml")

    # -- helpers ------------------------------------------------------------------------------

    def _authorize(self, ident: sigv4.Identity, target: S3Target, copy_source: str) -> None:
        policy = self.store.policies.get(principal_key(ident))
        if policy is None or not policy.allows(target.action, target.resource, target.prefix):
            raise exc.AccessDenied()
        if copy_source:
            source = unquote(copy_source.split("?", 1)[0]).lstrip("/")
            if not policy.allows("s3:GetObject", f"arn:aws:s3:::{source}"):
                raise exc.AccessDenied()

    @staticmethod
    def _shaped(call: Call, status: int, headers: list[tuple[str, str]], data: bytes) -> Response:
        """moto's answer as S3 gives it: an empty answer to a write unlabelled (moto says
        text/html; S3 sends no Content-Type there), an error naming this request's ids (moto
        makes up a `<RequestId>` and `<HostId>` that match nothing), a HEAD's length kept."""
        if status < 300 and not data and call.method in ("PUT", "POST", "DELETE"):
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        elif status >= 300 and call.method != "HEAD" and b"<HostId>" in data[-400:]:
            rid = call.request_id
            data = _REQUEST_ID.sub(f"<RequestId>{rid}</RequestId>".encode(), data, count=1)
            data = _HOST_ID.sub(f"<HostId>{exc.host_id(rid)}</HostId>".encode(), data, count=1)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        resp = Response(data, status=status, headers=headers)
        if call.method == "HEAD":
            length = next((v for k, v in headers if k.lower() == "content-length"), None)
            if length is not None:
                resp.headers["Content-Length"] = length
        return resp

    @staticmethod
    def _moto_error(data: bytes, status: int) -> str:
        match = _ERROR_CODE.search(data[:2048])
        return match.group(1).decode() if match else f"HTTP{status}"

    def _upload(self, call: Call, ident: sigv4.Identity, target: S3Target) -> Upload | None:
        """The upload a write completes, if it is a promo-code file of a client."""
        key = target.key
        if not key.startswith((NEW_PREFIX, REDEEMED_PREFIX)) or key.endswith("/"):
            return None
        env = self.store.config.environment_of(target.bucket)
        client = self.store.config.client_for_key(principal_key(ident))
        if env is None or client is None:
            return None
        return Upload(target.bucket, key, env, client, iso(call.runtime.clock.now()))
