"""Wire errors: S3's XML errors (named as on the wire) and the landing endpoint's JSON errors."""

from __future__ import annotations

import base64
import hashlib
import inspect
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from mocksrv.errors import NamedWireError
from mocksrv.http import xml_escape as escape


def host_id(request_id: str) -> str:
    """S3's extended request id (`x-amz-id-2`, an error's `<HostId>`): 76 base64 characters,
    as S3's are; derived from the request id, so the header and the XML always agree."""
    return base64.b64encode(hashlib.sha512(request_id.encode()).digest()[:56]).decode()


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
            f"{extra}<RequestId>{request_id}</RequestId><HostId>{host_id(request_id)}</HostId></Error>"
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


class RequestHeaderSectionTooLarge(S3Error):
    status = 400
    message = "Your request header section exceeds the maximum allowed size."


class InternalError(S3Error):
    status = 500
    message = "We encountered an internal error. Please try again."


class ServiceUnavailable(S3Error):
    status = 503
    message = "Please reduce your request rate."


class SlowDown(S3Error):
    status = 503
    message = "Please reduce your request rate."


class _S3Errors(Mapping[str, type[S3Error]]):
    """S3's wire errors by name: the classes above and, for every other code moto's S3 raises,
    one made from moto's exception (its status and message). Built on first use, which imports
    moto: a fault naming an S3 error needs it, start-up and other scenarios do not."""

    def __init__(self) -> None:
        self._by_name: dict[str, type[S3Error]] | None = None
        self._lock = threading.Lock()

    def _all(self) -> dict[str, type[S3Error]]:
        if self._by_name is None:
            with self._lock:
                if self._by_name is None:
                    own = {
                        cls.__name__: cls
                        for cls in globals().values()
                        if isinstance(cls, type) and issubclass(cls, S3Error) and cls is not S3Error
                    }
                    self._by_name = {**_from_moto(), **own}
        return self._by_name

    def __getitem__(self, name: str) -> type[S3Error]:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _from_moto() -> dict[str, type[S3Error]]:
    """An S3Error class per wire code of `moto.s3.exceptions`, with the status and message moto
    answers it with: each class is made with placeholder arguments, and its code and status come
    from moto's own error model lookup, as moto's S3 serializer does it. Where several classes
    share a code, the first whose message needs no argument gives the message."""
    try:
        from moto.core.errors import get_error_model
        from moto.core.exceptions import ServiceException
        from moto.core.utils import get_service_model
        from moto.s3 import exceptions as moto_exc
    except ImportError:  # a moto without these: mocksrv's own names only, as before
        return {}
    model = get_service_model("s3")
    found: dict[str, tuple[int, str]] = {}
    for cls in vars(moto_exc).values():
        if not (isinstance(cls, type) and issubclass(cls, ServiceException)):
            continue
        err = _instance(cls)
        if err is None or err.code == ServiceException.code:
            continue
        shape = get_error_model(err, model)
        status = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
        message = str(err.message)
        seen = found.get(shape.error_code)
        if seen is None or (_ARG in seen[1] and _ARG not in message):
            found[shape.error_code] = (status, message)
    return {code: _made(code, status, message) for code, (status, message) in found.items()}


_ARG = "\x00arg\x00"  # stands for each argument a moto exception needs


def _instance(cls: type[Any]) -> Any:
    """The exception made with a placeholder for each argument it needs; None if it cannot be
    (then it is not a name faults can use: tests/test_s3_error_names.py reads moto's source)."""
    try:
        params = inspect.signature(cls.__init__).parameters.values()
        needed = [p for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
        return cls(*[_ARG] * (len(needed) - 1))  # less `self`
    except Exception:
        return None


def _made(code: str, status: int, message: str) -> type[S3Error]:
    text = message.replace(_ARG, "…")
    if not text.strip("… "):
        text = f"The request was refused: {code}."  # moto has only the caller's text for it
    return type(code, (S3Error,), {"status": status, "message": text, "__module__": __name__})


# the S3 wire errors a fault may name (faults.known_errors) and render_named_error renders
ERRORS: Mapping[str, type[S3Error]] = _S3Errors()


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
