"""JSON Schema of the toolkit's scenario sections: `faults`, `expectations` and `journal`; the
`match.api` names come from the registry (`apis`, every accepted spelling)."""

from __future__ import annotations

from functools import cache
from typing import Any

_VALUE: dict[str, Any] = {
    "description": "A scalar (equality; 10 equals 10.0) or one operator: equals, matches (a "
    "full-match regex), in (a list), present (true/false).",
    "oneOf": [
        {"type": ["string", "number", "boolean"]},
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
            "properties": {
                "equals": {"type": ["string", "number", "boolean"]},
                "matches": {"type": "string"},
                "in": {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
                "present": {"type": "boolean"},
            },
        },
    ],
}


def _match(extra: bool, apis: tuple[str, ...]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "api": {"enum": list(apis)},
        "operation": _VALUE,
        "identity": _VALUE,
        "fields": {
            "type": "object",
            "description": "Request fields the service recorded (e.g. creationRequestId, "
            "offerCode); dotted names reach into nested values (value.amount).",
            "additionalProperties": _VALUE,
        },
    }
    if extra:  # only known once the call was answered
        props["outcome"] = _VALUE
        props["status"] = _VALUE
        props["signature_failed"] = {"type": "boolean"}
    return {"type": "object", "additionalProperties": False, "properties": props}


@cache
def fault(apis: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
            "name": {"type": "string", "minLength": 1},
            "match": _match(False, apis),
            "nth": {
                "type": "integer",
                "minimum": 1,
                "description": "Fire on the nth matching call only.",
            },
            "after": {"type": "integer", "minimum": 0, "description": "Skip the first N matches."},
            "times": {"type": "integer", "minimum": 1, "description": "Fire at most N times."},
            "probability": {"type": "number", "minimum": 0, "maximum": 1},
            "seed": {"type": "integer", "description": "Seeds probability and latency ranges."},
            "priority": {
                "type": "integer",
                "description": "Faults are tried by priority, highest first (default 0); at equal "
                "priority, those added at run time (newest first) before the scenario's (in order).",
            },
            "latency_ms": {
                "description": "Delay before answering: fixed, or a uniform {min, max} range.",
                "oneOf": [
                    {"type": "number", "minimum": 0, "maximum": 120000},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["min", "max"],
                        "properties": {
                            "min": {"type": "number", "minimum": 0, "maximum": 120000},
                            "max": {"type": "number", "minimum": 0, "maximum": 120000},
                        },
                    },
                ],
            },
            "error": {"type": "string", "description": "A wire error of match.api, by name."},
            "throttle": {
                "type": "boolean",
                "description": "Answer with the API's throttling error.",
            },
            "transport": {"enum": ["connection_reset", "empty_response", "truncated_response"]},
            "commit_then_fail": {
                "description": "Handle the call (state changes), then lose the response this way "
                "(true = connection_reset).",
                "oneOf": [
                    {"type": "boolean"},
                    {"enum": ["connection_reset", "empty_response", "truncated_response"]},
                ],
            },
        },
    }


@cache
def expectation(apis: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "match": _match(True, apis),
            "count": {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "description": "Default: at_least 1.",
                "properties": {
                    k: {"type": "integer", "minimum": 0} for k in ("exactly", "at_least", "at_most")
                },
            },
        },
    }


def sections(apis: tuple[str, ...]) -> dict[str, Any]:
    return {
        "faults": {"type": "array", "items": fault(apis)},
        "expectations": {"type": "array", "items": expectation(apis)},
        "journal": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "capacity": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1000000,
                    "description": "Entries kept in memory (default 10000); older ones are dropped.",
                }
            },
        },
    }
