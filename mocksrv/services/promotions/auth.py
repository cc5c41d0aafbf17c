"""S3 authentication: SigV4 header and presigned-URL verification mapped to S3's own errors."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from mocksrv import sigv4
from mocksrv.call import Call
from mocksrv.credentials import token_problem
from mocksrv.services.promotions import exceptions as exc

PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                  "X-Amz-SignedHeaders", "X-Amz-Signature")  # fmt: skip
_SKEW_FMT = "%Y%m%dT%H%M%SZ"


def authenticate(call: Call, policy: sigv4.VerifyPolicy, region: str) -> sigv4.Identity:
    """The verified identity of an S3 request, or the S3 error a real bucket would answer."""
    header = call.headers.get("authorization", "")
    query = call.query()
    if header.startswith("AWS ") or ("AWSAccessKeyId" in query and "Signature" in query):
        raise exc.InvalidRequest()  # SigV2: buckets created since 2020 accept only SigV4
    presigned = not header and "X-Amz-Signature" in query
    # the credential scope as sent: key/date/region/service/aws4_request
    if header:
        scope = header.partition("Credential=")[2].split(",", 1)[0].strip().split("/")
    else:
        scope = query.get("X-Amz-Credential", "").split("/")
    if len(scope) == 5 and scope[2] != region:
        raise _wrong_region(scope[2], region, presigned)  # before the key and the signature
    _check_session_token(call, scope[0], header, query, policy)
    if presigned:
        return _presigned(call, query, policy)
    try:
        return call.verify_signature(policy)[0]
    except sigv4.SigV4Failure as failure:
        raise _s3_error(call, failure, policy) from None


def _check_session_token(
    call: Call, key: str, header: str, query: dict[str, str], policy: sigv4.VerifyPolicy
) -> None:
    """Temporary credentials (STS): the token must be that of the key's session, not expired
    (checked before the signature, as S3 does). A session key without its token is an unknown
    key (the signature check says so)."""
    token = (
        call.headers.get("x-amz-security-token") if header else query.get("X-Amz-Security-Token")
    )
    if not token:
        return  # no token: the usual path
    ident = call.runtime.keyring.lookup(key, policy, token)
    problem = token_problem(ident, token, call.runtime.clock.now())
    if problem is not None:
        call.outcome = f"token:{problem}"
    if problem == "invalid":
        raise exc.InvalidToken(**{"Token-0": str(token)})
    if problem == "expired":
        raise exc.ExpiredToken(**{"Token-0": str(token)})


def _wrong_region(found: str, region: str, presigned: bool) -> exc.S3Error:
    """S3's answer to a scope that names another region than the bucket's (a client's
    redirector reads `<Region>` and signs again)."""
    wrong = f"the region '{found}' is wrong; expecting '{region}'"
    if presigned:
        return exc.AuthorizationQueryParametersError(
            f"Error parsing the X-Amz-Credential parameter; {wrong}", Region=region
        )
    return exc.AuthorizationHeaderMalformed(
        f"The authorization header is malformed; {wrong}", Region=region
    )


def _s3_error(call: Call, failure: sigv4.SigV4Failure, policy: sigv4.VerifyPolicy) -> exc.S3Error:
    kind = failure.kind
    if kind == "missing":
        return exc.AccessDenied()
    key = call.headers.get("authorization", "").partition("Credential=")[2].split("/", 1)[0]
    if kind == "unknown_key":
        return exc.InvalidAccessKeyId(AWSAccessKeyId=key)
    if kind == "skew":
        now = datetime.now(UTC).strftime(_SKEW_FMT)
        return exc.RequestTimeTooSkewed(
            RequestTime=call.headers.get("x-amz-date", ""),
            ServerTime=now,
            MaxAllowedSkewMilliseconds=str(policy.skew_seconds * 1000),
        )
    if kind == "mismatch" and "x-amz-content-sha256" in failure.message:
        return exc.XAmzContentSHA256Mismatch(
            ClientComputedContentSHA256=call.headers.get("x-amz-content-sha256", ""),
            S3ComputedContentSHA256=sigv4.payload_sha256(call.payload()),
        )
    if kind == "mismatch":
        fields = {"AWSAccessKeyId": key}
        if failure.debug:
            fields["StringToSign"] = failure.debug["stringToSign"]
            fields["CanonicalRequest"] = failure.debug["canonicalRequest"]
        return exc.SignatureDoesNotMatch(**fields)
    return exc.AuthorizationHeaderMalformed(
        f"The authorization header is malformed; {failure.message}"
    )


def _presigned(call: Call, query: dict[str, str], policy: sigv4.VerifyPolicy) -> sigv4.Identity:
    if any(not query.get(p) for p in PRESIGN_PARAMS) or query["X-Amz-Algorithm"] != sigv4.ALGORITHM:
        raise exc.AuthorizationQueryParametersError()
    scope = query["X-Amz-Credential"].split("/")
    amz_date = query["X-Amz-Date"]
    try:
        signed_at = datetime.strptime(amz_date, _SKEW_FMT).replace(tzinfo=UTC)
        expires = int(query["X-Amz-Expires"])
    except ValueError:
        raise exc.AuthorizationQueryParametersError() from None
    if expires < 0:
        raise exc.AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
    if expires > 604800:
        raise exc.AuthorizationQueryParametersError(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        )
    if len(scope) != 5 or scope[3] != "s3" or scope[1] != amz_date[:8]:
        raise exc.AuthorizationQueryParametersError(
            f"Error parsing the X-Amz-Credential parameter; {query['X-Amz-Credential']!r}"
        )
    ident = call.runtime.keyring.lookup(scope[0], policy, query.get("X-Amz-Security-Token"))
    if ident is None:
        raise exc.InvalidAccessKeyId(AWSAccessKeyId=scope[0])
    if datetime.now(UTC) - timedelta(seconds=expires) > signed_at:
        raise exc.AccessDenied("Request has expired", **{"X-Amz-Expires": str(expires)})
    canonical = _presigned_canonical(call, query)
    string_to_sign = "\n".join((
        sigv4.ALGORITHM, amz_date, "/".join(scope[1:]),
        hashlib.sha256(canonical.encode()).hexdigest(),
    ))  # fmt: skip
    key = call.runtime.keyring.signing_key(ident, scope[1], scope[2], "s3")
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not sigv4.equal_digest(query["X-Amz-Signature"].lower(), expected):
        call.signature_failed = True
        call.outcome = "signature:mismatch"
        call.identity = ident.name
        call.signature_detail = (
            f"key {scope[0]} ({ident.name}), presigned URL scope {'/'.join(scope[1:4])}: the "
            "signature does not match the request as received"
        )
        call.signature_computed = {"canonicalRequest": canonical, "stringToSign": string_to_sign}
        raise exc.SignatureDoesNotMatch(AWSAccessKeyId=scope[0])
    call.identity = ident.name
    return ident


def _presigned_canonical(call: Call, query: dict[str, str]) -> str:
    """The canonical request of a presigned URL: the query minus the signature, path as sent."""
    signed = sorted(h.strip().lower() for h in query["X-Amz-SignedHeaders"].split(";") if h.strip())
    return "\n".join((
        call.method,
        sigv4.canonical_uri(call.raw_path, normalize=False),
        sigv4.canonical_query(call.query_string, drop=("X-Amz-Signature",)),
        "".join(f"{h}:{' '.join(call.headers.get(h, '').split())}\n" for h in signed),
        ";".join(signed),
        call.headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ))  # fmt: skip
