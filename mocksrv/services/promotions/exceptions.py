"""Wire errors: S3's XML errors (named as on the wire) and the landing endpoint's JSON errors."""

from __future__ import annotations

from mocksrv.errors import NamedWireError
from mocksrv.http import xml_escape as escape


class S3Error(NamedWireError):
    """`<Error><Code>..</Code><Message>..</Message>..</Error>`; extra fields become elements."""

    def __init__(self, message: str | None = None, **fields: str) -> None:
        super().__init__(message)
        self.fields = fields

    def to_xml(self, request_id: str) -> bytes:
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.fields.items())
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.error_code}</Code><Message>{escape(self.message)}</Message>"
            f"{extra}<RequestId>{request_id}</RequestId><HostId>mocksrv</HostId></Error>"
        ).encode()


class AccessDenied(S3Error):
    status = 403
    message = "Access Denied"


class SignatureDoesNotMatch(S3Error):
    status = 403
    message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )


class InvalidAccessKeyId(S3Error):
    status = 403
    message = "The AWS Access Key Id you provided does not exist in our records."


class RequestTimeTooSkewed(S3Error):
    status = 403
    message = "The difference between the request time and the current time is too large."


class AuthorizationHeaderMalformed(S3Error):
    status = 400
    message = "The authorization header is malformed."


class AuthorizationQueryParametersError(S3Error):
    status = 400
    message = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."


class XAmzContentSHA256Mismatch(S3Error):
    status = 400
    message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class InvalidArgument(S3Error):
    status = 400
    message = "Invalid Argument"


class InvalidRequest(S3Error):
    status = 400
    message = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."


class InvalidToken(S3Error):
    status = 400
    message = "The provided token is malformed or otherwise invalid."


class ExpiredToken(S3Error):
    status = 400
    message = "The provided token has expired."


class EntityTooLarge(S3Error):
    status = 400
    message = "Your proposed upload exceeds the maximum allowed size"


class InternalError(S3Error):
    status = 500
    message = "We encountered an internal error. Please try again."


class ServiceUnavailable(S3Error):
    status = 503
    message = "Please reduce your request rate."


class SlowDown(S3Error):
    status = 503
    message = "Please reduce your request rate."


ERRORS: dict[str, type[S3Error]] = {
    cls.__name__: cls
    for cls in (
        AccessDenied,
        SignatureDoesNotMatch,
        InvalidAccessKeyId,
        RequestTimeTooSkewed,
        AuthorizationHeaderMalformed,
        XAmzContentSHA256Mismatch,
        InvalidRequest,
        InvalidToken,
        ExpiredToken,
        EntityTooLarge,
        InternalError,
        ServiceUnavailable,
        SlowDown,
    )
}


class LandingError(NamedWireError):
    """The landing endpoint's errors: `{"error":{"code":..,"message":..}}`."""


class BadRequest(LandingError):
    status = 400
    message = "Bad request"


class PromotionNotFound(LandingError):
    status = 404
    message = "No such promotion"


class NoCodeAvailable(LandingError):
    status = 409
    message = "The promotion has no available codes"
