"""The published JSON Schema of scenario files, composed from the core and each API's section."""

from __future__ import annotations

from typing import Any

INSTANT = {"type": "string", "description": "ISO-8601 instant, e.g. 2026-05-15T14:00:00Z"}
NAME = {"type": "string", "minLength": 1, "maxLength": 128}

CORE_PROPERTIES: dict[str, Any] = {
    "version": {"const": 1, "description": "Scenario format version; always 1."},
    "name": NAME,
    "description": {"type": "string"},
    "extends": {
        "description": "Scenarios loaded before this one and extended by it: bundled names "
        "(e.g. default) or paths relative to this file.",
        "oneOf": [NAME, {"type": "array", "items": NAME}],
    },
    "settings": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "sigv4_debug": {
                "type": "boolean",
                "description": "Signature mismatches also return the server's canonical request "
                "and string-to-sign (default false).",
            },
            "skew_seconds": {
                "type": "object",
                "additionalProperties": False,
                "description": "Allowed clock skew of x-amz-date vs the real wall clock; 0 disables.",
                "properties": {
                    k: {"type": "integer", "minimum": 0} for k in ("prime", "agcod", "s3", "sts")
                },
            },
        },
    },
    "clock": {
        "type": "object",
        "additionalProperties": False,
        "description": "The business clock used by rules (not by SigV4 skew).",
        "properties": {
            "start": INSTANT,
            "frozen": {"type": "boolean", "description": "Frozen clocks only move when told to."},
        },
    },
    "identities": {
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "api", "access_key", "secret_key"],
            "properties": {
                "name": NAME,
                "api": {"enum": ["prime", "agcod", "promotions"]},
                "access_key": {"type": "string", "pattern": "^[A-Z0-9]{16,128}$"},
                "secret_key": {"type": "string", "minLength": 16},
                "regions": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[a-z]{2}(-[a-z]+)+-[0-9]$"},
                    "description": "Regions the credential scope may name (default: any the API "
                    "accepts).",
                },
                "benefits": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "prime: benefit ids this identity may call (default: all).",
                },
            },
        },
    },
}


def scenario_schema() -> dict[str, Any]:
    from mocksrv.services import section_schemas

    props = dict(CORE_PROPERTIES)
    props.update(section_schemas())
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mocksrv.dev/schema/scenario-1.json",
        "title": "mocksrv scenario",
        "type": "object",
        "additionalProperties": False,
        "required": ["version"],
        "properties": props,
    }
