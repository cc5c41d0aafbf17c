"""AGCOD wire errors: the F-code catalogue of the spec, plus throttling and SigV4 failures."""

from __future__ import annotations

from mocksrv.errors import WireError

# errorType -> (errorCode, message). Real names repeat across classes (GeneralError is F100, F300
# and F500), so one exception class carries the name as data instead of one class per name; the
# catalogue is the single source of names a scenario may use, checked at load time.
CATALOG: dict[str, tuple[str, str]] = {
    "GeneralError": ("F100", "General Error"),
    "SimpleAmountIsNull": ("F100", "Amount can't be null"),
    "AmountIsNull": ("F100", "Amount can't be null"),
    "CurrencyCodeIsNull": ("F100", "Currency Code can't be null or empty"),
    "GcLocked": ("F100", "Gift card is locked"),
    "EmptyCardInfoList": ("F100", "Card info list is empty"),
    "RequestError": ("F100", "Request error"),
    "InvalidRequestInput": ("F200", "Request body is null"),
    "InvalidCardNumberInput": ("F200", "Card number can't be null or empty"),
    "InvalidPartnerIdInput": ("F200", "Partner Id can't be null or empty"),
    "InvalidAmountInput": ("F200", "Amount can't be null"),
    "InvalidAmountValue": ("F200", "Amount must be larger than 0"),
    "InvalidCurrencyCodeInput": ("F200", "Currency Code can't be null or empty"),
    "CardAlreadyActivatedWithDifferentRequestId": (
        "F200",
        "The card was already activated with a different request id",
    ),
    "MaxAmountExceeded": ("F200", "Max Amount Exceeded"),
    "CurrencyCodeMismatch": ("F200", "Currency Code Mismatch"),
    "FractionalAmountNotAllowed": ("F200", "Fractional Amount Not Allowed"),
    "CancelRequestArrivedAfterTimeLimit": (
        "F200",
        "Cancellation cannot be processed as too much time has elapsed since creation",
    ),
    "InvalidRequestIdInput": ("F200", "Request Id can't be null or empty"),
    "RequestIdTooLong": ("F200", "Request Id is too long"),
    "RequestIdMustStartWithPartnerName": ("F200", "Request Id must start with the Partner Id"),
    "InvalidGCIdInput": ("F200", "Invalid GC Id"),
    "CardNotFound": ("F200", "Card not found"),
    "RequestedDenominationMismatch": ("F200", "Requested Denomination Mismatch"),
    "NegativeOrZeroAmount": ("F200", "Amount must be larger than 0"),
    "GcNotReadyForRefund": ("F200", "Gift card is not ready for refund"),
    "InvalidCurrencyInMarketplace": ("F200", "Invalid Currency In Marketplace"),
    "AmountBelowMinThreshold": ("F200", "Amount Below Min Threshold"),
    "ExternalReferenceTooLong": ("F200", "External Reference Too Long"),
    "ProgramIdNotPresent": ("F200", "Program Id Not Present"),
    "InvalidProgramId": ("F200", "Invalid Program Id"),
    "BadInput": ("F200", "Bad Input"),
    "InvalidRequest": ("F200", "Invalid Request"),
    "CardNumberNotFound": ("F200", "Card Number Not Found"),
    "CardNumberCheckSumError": ("F200", "Card Number CheckSum Error"),
    "CardNumberTooShort": ("F200", "Card Number Too Short"),
    "CardActivatedWithDifferentDenomination": (
        "F200",
        "Card Activated With Different Denomination",
    ),
    "ActivationNotAllowed": ("F200", "Activation Not Allowed"),
    "DeactivationNotAllowed": ("F200", "Deactivation Not Allowed"),
    "NonExistingActivationRequestId": ("F200", "Non Existing Activation Request Id"),
    "WrongActivationRequestId": ("F200", "Wrong Activation Request Id"),
    "ActivationRequestIdAlreadyBeenUsed": ("F200", "Activation Request Id Already Been Used"),
    "InsufficientFunds": ("F300", "Insufficient Funds"),
    "CustomerSurpassedDailyVelocityLimit": ("F300", "Customer has exceeded daily velocity limit"),
    "ActiveContractNotFound": ("F300", "Active Contract Not Found"),
    "AccessDenied": ("F300", "Access Denied"),
    "InvalidPartnerId": ("F300", "Invalid Partner Id"),
    "UnknownCustomer": ("F300", "Unknown Customer"),
    "BlockedCustomer": ("F300", "Blocked Customer"),
    "IssuanceCapExceeded": ("F300", "Issuance Cap Exceeded"),
    "OperationNotPermitted": ("F300", "Operation Not Permitted"),
    "CustomerAccountBlocked": ("F300", "Customer Account Blocked"),
    "ProgramIsNotApproved": ("F300", "Program Is Not Approved"),
    "SystemTemporarilyUnavailable": ("F400", "System Temporarily Unavailable"),
}
CLASSES = ("F100", "F200", "F300", "F400", "F500")

# The documented sandbox test plan: mock request id -> (errorCode, errorType, message).
MOCK_IDS: dict[str, tuple[str, str, str]] = {
    "F1000": ("F100", "GeneralError", "General Error"),
    "F2000": ("F200", "InvalidRequestInput", "Request body is null"),
    "F2001": ("F200", "InvalidCardNumberInput", "Card number can't be null or empty"),
    "F2002": ("F200", "InvalidPartnerIdInput", "Partner Id can't be null or empty"),
    "F2003": ("F200", "InvalidAmountInput", "Amount can't be null"),
    "F2004": ("F200", "InvalidAmountValue", "Amount must be larger than 0"),
    "F2005": ("F200", "InvalidCurrencyCodeInput", "Currency Code can't be null or empty"),
    "F2010": (
        "F200",
        "CardAlreadyActivatedWithDifferentRequestId",
        "The card was already activated with a different request id",
    ),
    "F2015": ("F200", "MaxAmountExceeded", "Max Amount Exceeded"),
    "F2016": ("F200", "CurrencyCodeMismatch", "Currency Code Mismatch"),
    "F2017": ("F200", "FractionalAmountNotAllowed", "Fractional Amount Not Allowed"),
    "F2047": (
        "F200",
        "CancelRequestArrivedAfterTimeLimit",
        "Cancellation cannot be processed as too much time has elapsed since creation",
    ),
    "F3003": ("F300", "InsufficientFunds", "Insufficient Funds"),
    "F3005": ("F300", "GeneralError", "General Error"),
    "F3010": (
        "F300",
        "CustomerSurpassedDailyVelocityLimit",
        "Customer has exceeded daily velocity limit",
    ),
    "F4000": ("F400", "SystemTemporarilyUnavailable", "System Temporarily Unavailable"),
    "F5000": ("F500", "GeneralError", "General Error"),
}
MOCK_SUCCESS_ID = "F0000"

# AWS-level (non F-code) errors: name -> default HTTP status.
THROTTLING = "ThrottlingException"
THROTTLE_MESSAGE = "Rate exceeded"
AUTH_ERRORS = {
    "missing": "MissingAuthenticationTokenException",
    "malformed": "IncompleteSignatureException",
    "unknown_key": "UnrecognizedClientException",
}
AUTH_DEFAULT = "InvalidSignatureException"


class AgcodError(WireError):
    """An F-code error: `error_type` (wire errorType), `error_code` (F100..F500), `message`.

    `echo_request_id` is False for sandbox mock ids, whose agcodResponse carries a null id.
    """

    def __init__(
        self,
        error_type: str,
        message: str | None = None,
        *,
        error_code: str | None = None,
        echo_request_id: bool = True,
    ) -> None:
        code, default_message = CATALOG.get(error_type, ("F500", "General Error"))
        self.error_type = error_type
        self.error_code = error_code or code
        self.echo_request_id = echo_request_id
        super().__init__(message if message is not None else default_message)

    @property
    def name(self) -> str:
        return self.error_type

    @property
    def response_status(self) -> str:
        return "RESEND" if self.error_code == "F400" else "FAILURE"


class AwsError(Exception):
    """A non F-code error (throttling, SigV4): `{"__type": name, "message": ...}`."""

    def __init__(self, name: str, message: str, status: int) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.status = status


def mock_error(mock_id: str) -> AgcodError:
    code, error_type, message = MOCK_IDS[mock_id]
    return AgcodError(error_type, message, error_code=code, echo_request_id=False)


def named_error(name: str) -> AgcodError | None:
    """An error from a scenario/fault name: `InsufficientFunds`, `F300:GeneralError` or `F3003`."""
    if name in MOCK_IDS:
        return mock_error(name)
    code, sep, error_type = name.partition(":")
    if sep and code in CLASSES and (error_type in CATALOG or error_type == "GeneralError"):
        return AgcodError(error_type, error_code=code)
    if name in CATALOG:
        return AgcodError(name)
    return None
