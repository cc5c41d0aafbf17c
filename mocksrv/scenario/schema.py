"""The core of the published JSON Schema of scenario files; the registry composes it with each
API's section (this module knows no API)."""

from __future__ import annotations

import copy
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
                "properties": {},  # one per API spelling, from the registry
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
                "api": {"enum": []},  # the APIs that take identities, from the registry
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


def compose(
    sections: dict[str, Any], *, identity_apis: list[str], skew_keys: list[str]
) -> dict[str, Any]:
    """The whole schema: the core with the registry's API names filled in, plus `sections`."""
    props = copy.deepcopy(CORE_PROPERTIES)
    skew = props["settings"]["properties"]["skew_seconds"]
    skew["properties"] = {k: {"type": "integer", "minimum": 0} for k in skew_keys}
    props["identities"]["items"]["properties"]["api"]["enum"] = list(identity_apis)
    props.update(sections)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mocksrv.dev/schema/scenario-1.json",
        "title": "mocksrv scenario",
        "type": "object",
        "additionalProperties": False,
        "required": ["version"],
        "properties": props,
    }
