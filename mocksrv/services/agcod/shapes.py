"""AGCOD wire shapes: safe JSON/XML request parsing, sorted JSON and ordered XML rendering."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _quote  # C-accelerated
from typing import Any
from xml.parsers.expat import ExpatError

from mocksrv.http import xml_escape as escape
from mocksrv.services.agcod.exceptions import AgcodError

STR, VALUE = "str", "value"
FIELDS: dict[str, dict[str, str]] = {
    "CreateGiftCard": {
        "creationRequestId": STR,
        "partnerId": STR,
        "value": VALUE,
        "externalReference": STR,
        "programId": STR,
        "productType": STR,
    },
    "CancelGiftCard": {"creationRequestId": STR, "partnerId": STR, "gcId": STR},
    "GetAvailableFunds": {"partnerId": STR},
    "ActivateGiftCard": {
        "activationRequestId": STR,
        "partnerId": STR,
        "cardNumber": STR,
        "value": VALUE,
    },
    "DeactivateGiftCard": {"activationRequestId": STR, "partnerId": STR, "cardNumber": STR},
    "ActivationStatusCheck": {"statusCheckRequestId": STR, "partnerId": STR, "cardNumber": STR},
}
_DTD = re.compile(rb"<!\s*(doctype|entity)", re.IGNORECASE)
_NUMBER = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
MAX_DEPTH = 8  # request fields nest two levels (value.amount); anything deeper is refused


def java_double(value: Decimal) -> str:
    """An amount as Java's Double.toString writes it: `10.0`, `0.15`, `1.0E7`."""
    f = float(value)
    if not math.isfinite(f):  # amounts are range-checked on input; Java's text, never an assert
        return "NaN" if math.isnan(f) else ("-Infinity" if f < 0 else "Infinity")
    if f == 0:
        return "0.0"
    if 1e-3 <= abs(f) < 1e7:
        return repr(f)
    sign, digits, exp = Decimal(repr(f)).normalize().as_tuple()
    exp = int(exp)
    text = "".join(map(str, digits))
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{exp + len(digits) - 1}"


def bad_input(message: str) -> AgcodError:
    return AgcodError("BadInput", message)


# -- parsing -------------------------------------------------------------------------------


def parse_body(
    operation: str, body: bytes, content_type: str, reject_unknown: bool
) -> dict[str, Any]:
    """The request fields of `operation`, type-checked; raises AgcodError for any bad input."""
    if not body.strip():
        raise AgcodError("InvalidRequestInput")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_input("Request body is not valid UTF-8") from None
    text = text.lstrip("\ufeff")
    ctype = content_type.lower()
    is_json = "json" in ctype or ("xml" not in ctype and text.lstrip().startswith("{"))
    if not is_json and "xml" not in ctype and not text.lstrip().startswith("<"):
        raise bad_input("Request body is neither JSON nor XML")
    raw = _load_json(text) if is_json else _load_xml(operation, body, text)
    return normalize(raw, FIELDS[operation], reject_unknown)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _load_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise bad_input("Request body is not well-formed JSON") from None
    if not isinstance(data, dict):
        raise bad_input("Request body must be a JSON object")
    return data


def _load_xml(operation: str, body: bytes, text: str) -> dict[str, Any]:
    if _DTD.search(body):
        raise bad_input("DOCTYPE and ENTITY declarations are not allowed")
    try:
        import xmltodict  # imported on the first XML request: it costs ~25 ms at start-up

        data = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError, RecursionError):
        raise bad_input("Request body is not well-formed XML") from None
    root = f"{operation}Request"
    if not isinstance(data, dict) or list(data) != [root]:
        raise bad_input(f"Expected root element <{root}>")
    content = data[root]
    if content is None or isinstance(content, str):
        return {}
    return _strip_attributes(content, 1)


def _strip_attributes(node: dict[str, Any], depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise bad_input("Request body nests elements too deeply")
    out = {}
    for key, value in node.items():
        if key.startswith("@"):
            continue  # xmlns and other attributes carry no request fields
        if key == "#text":
            raise bad_input("Unexpected text content")
        out[key] = _strip_attributes(value, depth + 1) if isinstance(value, dict) else value
    return out


def normalize(raw: dict[str, Any], spec: dict[str, str], reject_unknown: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        kind = spec.get(key)
        if kind is None:
            if reject_unknown:
                raise bad_input(f"Unknown field '{key[:64]}'")
            continue
        if value is None:
            continue
        if kind == STR:
            if not isinstance(value, str):
                raise bad_input(f"{key} must be a string")
            out[key] = value
        else:
            out[key] = _value(value, reject_unknown)
    return out


def _value(value: Any, reject_unknown: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_input("value must be an object with amount and currencyCode")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "amount":
            if item is not None:
                out["amount"] = _amount(item)
        elif key == "currencyCode":
            if item is not None and not isinstance(item, str):
                raise bad_input("currencyCode must be a string")
            if item is not None:
                out["currencyCode"] = item
        elif reject_unknown:
            raise bad_input(f"Unknown field 'value.{key[:64]}'")
    return out


def _amount(item: Any) -> Decimal:
    if isinstance(item, bool) or not isinstance(item, int | Decimal | str):
        raise bad_input("amount must be a number")
    if isinstance(item, str):
        if not _NUMBER.fullmatch(item.strip()):
            raise bad_input("amount must be a number")
        return Decimal(item.strip())
    return Decimal(item)


# -- rendering ------------------------------------------------------------------------------


def to_json(value: Any) -> str:
    """JSON with keys sorted at every level, nulls written out and amounts as Java doubles."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is dict:
        return "{" + ",".join(f"{_quote(k)}:{to_json(value[k])}" for k in sorted(value)) + "}"
    if value is None:
        return "null"
    if kind is Decimal:
        return java_double(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, dict):
        return to_json(dict(value))
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    raise TypeError(f"cannot render {type(value).__name__}")


def to_xml(root: str, members: list[tuple[str, Any]]) -> str:
    """`<root>` with members in the given order; None members are omitted."""
    return f"<{root}>{_xml_members(members)}</{root}>"


def _xml_members(members: list[tuple[str, Any]]) -> str:
    out = []
    for name, value in members:
        if value is None:
            continue
        if isinstance(value, list):
            inner = _xml_members(value)
        elif isinstance(value, Decimal):
            inner = java_double(value)
        else:
            inner = escape(str(value))
        out.append(f"<{name}>{inner}</{name}>")
    return "".join(out)
