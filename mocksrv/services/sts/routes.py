"""HTTP surface of STS (and IAM) on the shared pipeline: the query protocol as botocore sends
it, STS's own XML."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl

from mocksrv import sigv4
from mocksrv.call import BodyTooLarge, Call
from mocksrv.clock import iso
from mocksrv.credentials import MAX_DURATION, MIN_DURATION, token_problem
from mocksrv.http import Response, xml_escape
from mocksrv.services.base import ApiService, Route
from mocksrv.services.sts import exceptions as exc
from mocksrv.services.sts.config import IAM_NAMESPACE, NAMESPACE, ROLE_ARN, User
from mocksrv.services.sts.models import Session, SessionStore

log = logging.getLogger("mocksrv")
VERSION = "2011-06-15"
EMULATED = ("AssumeRole", "GetCallerIdentity")
# the rest of STS's operations: answered InvalidAction "not emulated", naming the operation
NOT_EMULATED = ("AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "AssumeRoot",
                "DecodeAuthorizationMessage", "GetAccessKeyInfo", "GetDelegatedAccessToken",
                "GetFederationToken", "GetSessionToken", "GetWebIdentityToken")  # fmt: skip
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")
_SIGV4_ERRORS: dict[str, type[exc.StsError]] = {
    "missing": exc.MissingAuthenticationToken,
    "unknown_key": exc.InvalidClientTokenId,
    "mismatch": exc.SignatureDoesNotMatch,
    "skew": exc.SignatureDoesNotMatch,
}
_TOKEN_ERRORS: dict[str, type[exc.StsError]] = {
    "invalid": exc.InvalidClientTokenId,
    "expired": exc.ExpiredTokenException,
}
MAX_BODY = 65536


def _xml(body: str) -> Response:
    return Response(body, status=200, content_type="text/xml")


class StsService(ApiService):
    """STS on the shared port: SigV4 scope `sts`, form-encoded `Action=...&Version=2011-06-15`."""

    api = "sts"
    scope = "sts"
    wire_error = exc.StsError
    internal_error = "InternalFailure"
    namespace = NAMESPACE

    def __init__(self, store: SessionStore, policy: sigv4.VerifyPolicy) -> None:
        super().__init__(policy)
        self.store = store

    def claims(self, call: Call) -> bool:
        """An unsigned query-protocol form post to `/` (S3 never posts a form there)."""
        return (
            call.method == "POST"
            and call.path == "/"
            and not call.headers.get("authorization")
            and (call.headers.get("content-type") or "").startswith(
                "application/x-www-form-urlencoded"
            )
        )

    def describe(self, url: str) -> list[str]:
        roles = ", ".join(self.store.config.roles) or "no roles"
        return [f"STS                {url}  (SigV4 sts; AssumeRole, GetCallerIdentity; {roles})"]

    def __call__(self, call: Call) -> Response:
        try:
            return super().__call__(call)
        except Exception:  # a bug must still answer in STS's shape, never a traceback
            log.exception("STS failed on %s %s", call.method, call.raw_path[:200])
            call.outcome = "InternalFailure"
            return self.render_error(call, exc.InternalFailure(), None)

    # -- the pipeline's steps -----------------------------------------------------------------

    def route(self, call: Call) -> Route:
        params = self._params(call)
        return Route(params.get("Action", "")[:64] or "Unknown", {"form": params})

    def body_limit(self, call: Call) -> int:
        return MAX_BODY

    def body_too_large(self, message: str, limit: int | None) -> Exception:
        return exc.ValidationError(f"Request body exceeds {limit} bytes")

    def field_too_large(self, message: str, name: str) -> Exception:
        return exc.ValidationError(message)  # a Decision (docs/sts.md): STS's own 400

    def authenticate(self, call: Call, route: Route) -> tuple[sigv4.Identity, Session | None]:
        ident = self.signed(call)[0]
        token = call.headers.get("x-amz-security-token")
        problem = token_problem(ident, token, call.runtime.clock.now())
        if problem is not None:
            call.outcome = f"token:{problem}"
            raise _TOKEN_ERRORS[problem]()
        session = ident.extra.get("session")
        return ident, session if isinstance(session, Session) else None

    def auth_error(self, call: Call, failure: sigv4.SigV4Failure) -> Exception:
        error = _SIGV4_ERRORS.get(failure.kind, exc.IncompleteSignature)
        if failure.kind in ("missing", "unknown_key"):
            return error()  # the class text is STS's own
        return error(sigv4.explain(failure))

    def operate(
        self, call: Call, route: Route, signed: tuple[sigv4.Identity, Session | None], _: Any
    ) -> Response:
        ident, session = signed
        action, params = route.operation, route.params["form"]
        if action == "GetCallerIdentity":
            body = self.get_caller_identity(ident, session)
        elif action == "AssumeRole":
            body = self.assume_role(call, params, ident, session)
        else:
            raise self.invalid_action(params.get("Action", ""))
        call.outcome = "OK"
        return _xml(
            f'<{action}Response xmlns="{self.namespace}">\n  <{action}Result>\n{body}'
            f"  </{action}Result>\n  <ResponseMetadata>\n    <RequestId>{call.request_id}"
            f"</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
        )

    def render_error(self, call: Call, err: Any, route: Route | None) -> Response:
        return Response(
            err.to_xml(call.request_id, self.namespace), status=err.status, content_type="text/xml"
        )

    def render_named_error(self, call: Call, name: str, route: Route | None) -> Response:
        err = exc.ERRORS.get(name, exc.InternalFailure)()
        return Response(err.to_xml("injected", self.namespace), status=err.status,
                        content_type="text/xml")  # fmt: skip

    def _params(self, call: Call) -> dict[str, str]:
        try:
            body = call.body(MAX_BODY) if call.method == "POST" else b""
        except BodyTooLarge:
            raise exc.ValidationError(f"Request body exceeds {MAX_BODY} bytes") from None
        params = dict(parse_qsl(call.query_string, keep_blank_values=True))
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return params

    @staticmethod
    def invalid_action(action: str) -> exc.StsError:
        if action in NOT_EMULATED:
            return exc.InvalidAction(
                f"mocksrv does not emulate the STS operation {action}; emulated: "
                + ", ".join(EMULATED)
            )
        return exc.InvalidAction(f"Could not find operation {action[:64]} for version {VERSION}")

    def get_caller_identity(self, ident: sigv4.Identity, session: Session | None) -> str:
        if session is not None:
            arn, user_id, account = session.arn, session.user_id, session.role.account
        else:
            user = self._user(ident)
            arn, user_id, account = user.arn, user.user_id, user.account
        return (
            f"    <Arn>{xml_escape(arn)}</Arn>\n    <UserId>{xml_escape(user_id)}</UserId>\n"
            f"    <Account>{account}</Account>\n"
        )

    def _user(self, ident: sigv4.Identity) -> User:
        return self.store.config.user(ident.access_key, ident.name)

    def assume_role(
        self, call: Call, params: dict[str, str], ident: sigv4.Identity, session: Session | None
    ) -> str:
        role_arn = params.get("RoleArn")
        name = params.get("RoleSessionName")
        call.fields.update({"RoleArn": role_arn, "RoleSessionName": name})
        duration = _validate(params)
        call.fields["DurationSeconds"] = duration
        caller = session.arn if session is not None else self._user(ident).arn
        role = self.store.config.roles.get(str(role_arn))
        denied = exc.AccessDenied(
            f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )
        if role is None or session is not None:
            raise denied  # unknown role; role chaining is not emulated (no role trusts a role)
        if not self.store.config.trusts(role, self._user(ident)):
            raise denied
        if role.external_id is not None and params.get("ExternalId") != role.external_id:
            raise denied
        if duration > role.max_duration:
            raise exc.ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        issued = self.store.issue(role, str(name), duration, caller, call.runtime.clock.now())
        call.fields.update({"assumedRoleArn": issued.arn, "accessKeyId": issued.access_key})
        source = params.get("SourceIdentity")
        return (
            (f"    <SourceIdentity>{xml_escape(source)}</SourceIdentity>\n" if source else "")
            + f"    <AssumedRoleUser>\n      <Arn>{xml_escape(issued.arn)}</Arn>\n"
            f"      <AssumedRoleId>{xml_escape(issued.user_id)}</AssumedRoleId>\n"
            "    </AssumedRoleUser>\n"
            f"    <Credentials>\n      <AccessKeyId>{issued.access_key}</AccessKeyId>\n"
            f"      <SecretAccessKey>{issued.secret_key}</SecretAccessKey>\n"
            f"      <SessionToken>{issued.token}</SessionToken>\n"
            f"      <Expiration>{iso(issued.expires).replace('.000Z', 'Z')}</Expiration>\n"
            f"    </Credentials>\n"
        )


def _validate(params: dict[str, str]) -> int:
    """AssumeRole's parameter constraints, all reported at once as STS does; the duration."""
    found: list[str] = []
    arn, name = params.get("RoleArn"), params.get("RoleSessionName")
    if arn is None:
        found.append(
            "Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
        )
    elif not ROLE_ARN.fullmatch(arn):
        found.append(f"Value '{arn[:2048]}' at 'roleArn' failed to satisfy constraint: "
                     "Member must be a valid IAM role ARN")  # fmt: skip
    if name is None:
        found.append(
            "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"
        )
    elif not _SESSION_NAME.fullmatch(name):
        found.append(f"Value '{name[:64]}' at 'roleSessionName' failed to satisfy constraint: "
                     r"Member must satisfy regular expression pattern: [\w+=,.@-]{2,64}")  # fmt: skip
    external = params.get("ExternalId")
    if external is not None and not _EXTERNAL_ID.fullmatch(external):
        found.append("Value at 'externalId' failed to satisfy constraint: "
                     r"Member must satisfy regular expression pattern: [\w+=,.@:\/-]{2,1224}")  # fmt: skip
    duration = _duration(params.get("DurationSeconds"), found)
    for key in ("Policy", "PolicyArns.member.1", "SerialNumber", "TokenCode"):
        if key in params:
            found.append(f"mocksrv does not emulate the AssumeRole parameter {key.split('.')[0]}")
    if found:
        count = f"{len(found)} validation error{'s' if len(found) > 1 else ''} detected: "
        raise exc.ValidationError(count + "; ".join(found))
    return duration


def _duration(text: str | None, found: list[str]) -> int:
    if text is None:
        return 3600
    try:
        duration = int(text)
    except ValueError:
        found.append(f"Value '{text[:20]}' at 'durationSeconds' failed to satisfy constraint: "
                     "Member must be an integer")  # fmt: skip
        return 3600
    if duration < MIN_DURATION:
        found.append(f"Value '{duration}' at 'durationSeconds' failed to satisfy constraint: "
                     f"Member must have value greater than or equal to {MIN_DURATION}")  # fmt: skip
    elif duration > MAX_DURATION:
        found.append(f"Value '{duration}' at 'durationSeconds' failed to satisfy constraint: "
                     f"Member must have value less than or equal to {MAX_DURATION}")  # fmt: skip
    return duration


class IamService(StsService):
    """IAM's query API (scope `iam`): authenticated, then every action is "not emulated"."""

    api = "sts"  # IAM's refusal belongs to the STS API: one name in the journal and faults
    scope = "iam"
    namespace = IAM_NAMESPACE

    def claims(self, call: Call) -> bool:
        return False

    def describe(self, url: str) -> list[str]:
        return []

    def operate(self, call: Call, route: Route, signed: Any, _: Any) -> Response:
        action = route.params["form"].get("Action", "")
        raise exc.InvalidAction(
            f"mocksrv does not emulate IAM; the operation {action[:64] or '(none)'} is not "
            "available (only STS AssumeRole and GetCallerIdentity are)"
        )
