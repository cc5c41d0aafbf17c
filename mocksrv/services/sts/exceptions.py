"""STS wire errors: `<ErrorResponse><Error><Type>..<Code>..<Message>..</Error><RequestId>..`."""

from __future__ import annotations

from mocksrv.errors import NamedWireError
from mocksrv.http import xml_escape as escape
from mocksrv.services.sts.config import NAMESPACE


class StsError(NamedWireError):
    """An STS (or IAM) query-protocol error; the code on the wire is the class name."""

    kind = "Sender"

    def to_xml(self, request_id: str, namespace: str = NAMESPACE) -> bytes:
        return (
            f'<ErrorResponse xmlns="{namespace}">\n'
            f"  <Error>\n    <Type>{self.kind}</Type>\n    <Code>{self.error_code}</Code>\n"
            f"    <Message>{escape(self.message)}</Message>\n  </Error>\n"
            f"  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
        ).encode()


class AccessDenied(StsError):
    status = 403
    message = "Access denied"


class ValidationError(StsError):
    status = 400
    message = "1 validation error detected"


class ExpiredTokenException(StsError):
    status = 400
    message = "The security token included in the request is expired"


class InvalidClientTokenId(StsError):
    status = 403
    message = "The security token included in the request is invalid."


class SignatureDoesNotMatch(StsError):
    status = 403
    message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )


class IncompleteSignature(StsError):
    status = 400
    message = "The request signature does not conform to AWS standards."


class MissingAuthenticationToken(StsError):
    status = 403
    message = "Request is missing Authentication Token"


class InvalidAction(StsError):
    status = 400
    message = "The action or operation requested is invalid."


class Throttling(StsError):
    status = 400
    message = "Rate exceeded"


class InternalFailure(StsError):
    kind = "Receiver"
    status = 500
    message = "The request processing has failed because of an unknown error."


ERRORS: dict[str, type[StsError]] = {
    cls.__name__: cls
    for cls in (
        AccessDenied,
        ValidationError,
        ExpiredTokenException,
        InvalidClientTokenId,
        SignatureDoesNotMatch,
        IncompleteSignature,
        MissingAuthenticationToken,
        InvalidAction,
        Throttling,
        InternalFailure,
    )
}
