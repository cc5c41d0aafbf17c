"""HTTP surface: S3 (auth -> classify -> IAM policy -> faults -> moto -> queue) and the landing page."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import unquote

from mocksrv import sigv4
from mocksrv.call import BodyTooLarge, Call
from mocksrv.clock import iso
from mocksrv.http import Response, has_control
from mocksrv.services.promotions import exceptions as exc
from mocksrv.services.promotions.access import S3Target, classify
from mocksrv.services.promotions.auth import authenticate
from mocksrv.services.promotions.config import ENVIRONMENTS, NEW_PREFIX, REDEEMED_PREFIX
from mocksrv.services.promotions.models import PromotionsStore, Upload

log = logging.getLogger("mocksrv")
LANDING = re.compile(r"^/promotions/(?P<promotion>[^/]+)/landing$")
WRITES = ("PutObject", "CopyObject", "CompleteMultipartUpload", "PostObject")
_ERROR_CODE = re.compile(rb"<Code>([A-Za-z0-9.]+)</Code>")
_MEMBER = re.compile(r"^[\x21-\x7e]{1,128}$")


def principal_key(ident: sigv4.Identity) -> str:
    """The access key whose policy applies: an assumed-role session acts as its role's client."""
    return str(ident.extra.get("policy_of") or ident.access_key)


def landing_error(err: exc.LandingError) -> Response:
    body = json.dumps({"error": {"code": err.error_code, "message": err.message}})
    return Response(body, status=err.status, content_type="application/json")


class PromotionsService:
    """S3 for the promo-code buckets (scope `s3`, also the fallback), plus the landing endpoint."""

    api = "promotions"
    scope = "s3"

    def __init__(self, store: PromotionsStore, policy: sigv4.VerifyPolicy, max_body: int) -> None:
        self.store = store
        self.policy = policy
        self.max_body = max_body

    def claims(self, call: Call) -> bool:
        return (
            call.method == "GET"
            and LANDING.match(call.path) is not None
            and not (call.headers.get("authorization") or "X-Amz-Signature" in call.query_string)
        )

    def describe(self, url: str) -> list[str]:
        host = url.split("://", 1)[1]
        buckets = ", ".join(f"{env}: {b}" for env, b in self.store.config.buckets.items())
        return [
            f"Promotions S3      {url}  (path-style, or http://<bucket>.localhost:{host.rsplit(':', 1)[1]};"
            f" SigV4 s3; {buckets})",
            f"Promotions landing {url}/promotions/{{promotion-id}}/landing?member={{member-id}}",
        ]

    def __call__(self, call: Call) -> Response:
        if self.claims(call):
            return self.landing(call)
        call.api = self.api
        try:
            return self._s3(call)
        except exc.S3Error as err:
            call.outcome = call.outcome or err.error_code
            return self.render(call, err)

    def render(self, call: Call, err: exc.S3Error) -> Response:
        resp = Response(
            err.to_xml(call.request_id), status=err.status, content_type="application/xml"
        )
        resp.headers["x-amz-request-id"] = call.request_id
        return resp

    def render_named_error(self, name: str) -> Response:
        err = exc.ERRORS.get(name, exc.InternalError)()
        return Response(err.to_xml("injected"), status=err.status, content_type="application/xml")

    def _s3(self, call: Call) -> Response:
        copy_source = call.headers.get("x-amz-copy-source", "")
        target = classify(
            call.method, call.headers.get("host", ""), call.raw_path, call.query_string, copy_source
        )
        call.operation = target.operation
        call.fields.update({"bucket": target.bucket, "key": target.key})
        query = call.query_string
        if not call.headers.get("authorization") and not (
            "X-Amz-" in query or "AWSAccess" in query
        ):
            raise exc.AccessDenied()  # anonymous: refused before its body is read
        if any(has_control(value) for _, value in call.headers.items()):
            # moto echoes some headers (x-amz-meta-*) back: a CR there would split the answer
            raise exc.InvalidArgument("Header values may not contain control characters")
        try:
            body = call.body(self.max_body)
        except BodyTooLarge:
            raise exc.EntityTooLarge() from None
        ident = authenticate(call, self.policy, self.store.config.region)
        self._authorize(ident, target, copy_source)
        injected = call.runtime.faults.intercept(call, self.render_named_error)
        if injected is not None:
            return injected
        try:
            status, headers, data = self.store.s3.dispatch(call.environ, body)
        except Exception:  # a moto bug must still answer in S3's shape, never a traceback
            log.exception("moto failed on %s %s", call.method, call.raw_path[:200])
            raise exc.InternalError() from None
        call.outcome = "OK" if status < 300 else self._moto_error(data, status)
        if status == 200 and target.operation in WRITES:
            if target.key:
                self.store.s3.persist(target.bucket, target.key)
            self._queue(call, ident, target)
        resp = Response(data, status=status, headers=headers)
        if call.method == "HEAD":
            length = next((v for k, v in headers if k.lower() == "content-length"), None)
            if length is not None:
                resp.headers["Content-Length"] = length
        return resp

    def _authorize(self, ident: sigv4.Identity, target: S3Target, copy_source: str) -> None:
        policy = self.store.policies.get(principal_key(ident))
        if policy is None or not policy.allows(target.action, target.resource, target.prefix):
            raise exc.AccessDenied()
        if copy_source:
            source = unquote(copy_source.split("?", 1)[0]).lstrip("/")
            if not policy.allows("s3:GetObject", f"arn:aws:s3:::{source}"):
                raise exc.AccessDenied()

    @staticmethod
    def _moto_error(data: bytes, status: int) -> str:
        match = _ERROR_CODE.search(data[:2048])
        return match.group(1).decode() if match else f"HTTP{status}"

    def _queue(self, call: Call, ident: sigv4.Identity, target: S3Target) -> None:
        key = target.key
        if not key.startswith((NEW_PREFIX, REDEEMED_PREFIX)) or key.endswith("/"):
            return
        env = self.store.config.environment_of(target.bucket)
        client = self.store.config.client_for_key(principal_key(ident))
        if env is None or client is None:
            return
        received = iso(call.runtime.clock.now())
        self.store.submit(Upload(target.bucket, key, env, client, received))

    def landing(self, call: Call) -> Response:
        call.api, call.operation = self.api, "Landing"
        try:
            resp = self._landing(call)
        except exc.LandingError as err:
            call.outcome = err.error_code
            return landing_error(err)
        call.outcome = "OK"
        return resp

    def _landing(self, call: Call) -> Response:
        match = LANDING.match(call.path)
        promotion_id = match["promotion"] if match else ""
        query = call.query()
        member = query.get("member", "")
        env = query.get("environment", "devo")
        call.fields.update({"promotionId": promotion_id, "member": member, "environment": env})
        if not _MEMBER.match(member):
            raise exc.BadRequest("Query parameter 'member' is required: 1-128 printable characters")
        if env not in ENVIRONMENTS:
            raise exc.BadRequest(
                f"Query parameter 'environment' must be devo or prod, not {env[:20]!r}"
            )
        promo = self.store.config.promotions.get(promotion_id)
        if promo is None:
            raise exc.PromotionNotFound(f"Promotion {promotion_id[:128]!r} is not in the scenario")
        injected = call.runtime.faults.intercept(call, self._named_landing_error)
        if injected is not None:
            return injected
        code, fresh = self.store.claim(env, promo.id, member)
        if code is None:
            raise exc.NoCodeAvailable(f"Promotion {promo.id} has no available codes in {env}")
        url = promo.url(code, member)
        if query.get("redirect") in ("1", "true"):
            return Response(status=302, headers={"Location": url})
        body = {"promotionId": promo.id, "environment": env, "member": member, "code": code,
                "url": url, "newlyAssigned": fresh}  # fmt: skip
        return Response(json.dumps(body), status=200, content_type="application/json")

    @staticmethod
    def _named_landing_error(name: str) -> Response:
        """Landing errors are free names (the real page has no published error set)."""
        body = json.dumps({"error": {"code": name, "message": f"Injected fault: {name}"}})
        return Response(body, status=503, content_type="application/json")
