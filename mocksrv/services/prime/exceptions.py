"""Prime API wire errors, named as on the wire; body `{"error":{"code":..,"message":..}}`."""

from __future__ import annotations

from mocksrv.errors import NamedWireError


class PrimeError(NamedWireError):
    """Rendered by the Prime service as `{"error":{"code":<class name>,"message":..}}`."""


class BadRequest(PrimeError):
    status = 400
    message = "Bad request"


class MissingAuthenticationToken(PrimeError):
    status = 403
    message = "Missing Authentication Token"


class InvalidSignature(PrimeError):
    status = 403
    message = "The request signature we calculated does not match the signature you provided."


class AccessDenied(PrimeError):
    status = 403
    message = "User is not authorized to access this resource"


class NotFound(PrimeError):
    status = 404
    message = "Not Found"


class TooManyRequests(PrimeError):
    status = 429
    message = "Too Many Requests"


class InternalServerError(PrimeError):
    status = 500
    message = "Internal Server Error"


class ServiceUnavailable(PrimeError):
    status = 503
    message = "Service Unavailable"


ERRORS: dict[str, type[PrimeError]] = {
    cls.__name__: cls
    for cls in (
        BadRequest,
        MissingAuthenticationToken,
        InvalidSignature,
        AccessDenied,
        NotFound,
        TooManyRequests,
        InternalServerError,
        ServiceUnavailable,
    )
}
