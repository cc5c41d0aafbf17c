"""Processing reports: reasons and their messages, error capping, JSON and errors-CSV rendering."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from mocksrv.services.promotions.config import RESULTS_PREFIX

ACCEPTED, PARTIAL, REJECTED = "ACCEPTED", "PARTIALLY_ACCEPTED", "REJECTED"

# Every reason a report can give, file-level then row-level; messages are templates.
FILE_REASONS = {
    "layout": "key must be {expected}<file>; got {key!r}",
    "client_mismatch": "clientname={found} in the key is not the uploading client {client!r}",
    "unknown_promotion": "promotionid={found} is not a promotion of client {client!r}",
    "partition_mismatch": "{name}={found} does not match promotion {promotion}'s {name} {expected!r}",
    "file_name": "file name {name!r} does not match {expected}",
    "file_client_mismatch": "file name starts with {found!r}, not the client name {client!r}",
    "kind_mismatch": "a {kind} file uploaded under {prefix}; {kind} files go under {expected}",
    "bad_date": "{stamp!r} in the file name is not a real UTC date and time (YYYYMMDD_HHMM)",
    "duplicate_file": "file {name!r} was already processed at {at} ({status}); nothing was applied again",
    "bom": "file starts with a UTF-8 byte-order mark (BOM); save it as plain UTF-8 without BOM",
    "not_utf8": "file is not UTF-8: byte 0x{byte:02X} on line {line} cannot be decoded "
    "(Latin-1/Windows-1252?); save it as plain UTF-8 without BOM",
    "empty_file": "file is empty: it holds no promo codes",
    "object_gone": "the object was replaced or deleted while it was being processed",
}
ROW_REASONS = {
    "header_row": "looks like a header row; files have no header, only <promo_code>,<status>",
    "empty_line": "empty line",
    "column_count": "expected 2 columns <promo_code>,<status>; found {count}",
    "empty_code": "promo code is empty or whitespace",
    "wrong_status": "status {status!r} is not {expected!r} (every row of a {kind} file has status "
    "{expected!r}, case-sensitive)",
    "code_too_long": "promo code is {length} characters; the limit is {limit}",
    "bad_characters": "promo code contains {char!r}; allowed characters are [{charset}]",
    "duplicate_in_file": "promo code appears earlier in this file",
    "already_in_inventory": "promo code was already uploaded to this promotion",
    "unknown_code": "promo code was never uploaded to this promotion",
    "already_redeemed": "promo code was already reported redeemed",
}


@dataclass
class Report:
    """What the pipeline found in one uploaded object."""

    bucket: str
    key: str
    environment: str
    client: str
    received_at: str
    max_errors: int
    kind: str = ""
    promotion: str = ""
    marketplace: str = ""
    offer_type: str = ""
    file_errors: list[dict[str, str]] = field(default_factory=list)
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    errors: list[tuple[int, str, str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    inventory: dict[str, int] | None = None
    processed_at: str = ""
    duration_ms: float = 0.0

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def status(self) -> str:
        if self.file_errors or not self.accepted:
            return REJECTED
        return PARTIAL if self.rejected else ACCEPTED

    @property
    def json_key(self) -> str:
        return f"{RESULTS_PREFIX}{self.key}.json"

    @property
    def errors_key(self) -> str:
        return f"{RESULTS_PREFIX}{self.key}.errors.csv"

    def file_error(self, reason: str, **values: Any) -> None:
        self.file_errors.append(
            {"reason": reason, "message": FILE_REASONS[reason].format(**values)}
        )

    def row_error(self, line: int, reason: str, content: str, **values: Any) -> None:
        self.rejected += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if len(self.errors) < self.max_errors:
            message = ROW_REASONS[reason].format(**values) if values else ROW_REASONS[reason]
            self.errors.append((line, reason, message, content[:200]))

    def discard_rows(self) -> None:
        """A file-level rejection after rows were read: nothing of the file is applied."""
        self.accepted = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "bucket": self.bucket,
            "key": self.key,
            "file": self.file_name,
            "environment": self.environment,
            "client": self.client,
            "kind": self.kind,
            "marketplace": self.marketplace,
            "offerType": self.offer_type,
            "promotionId": self.promotion,
            "fileErrors": self.file_errors,
            "rows": {"total": self.rows, "accepted": self.accepted, "rejected": self.rejected},
            "reasons": dict(sorted(self.reasons.items())),
            "errorsFile": self.errors_key if self.rejected else None,
            "errorsListed": len(self.errors),
            "errorsNotListed": max(0, self.rejected - len(self.errors)),
            "warnings": self.warnings,
            "inventory": self.inventory,
            "receivedAt": self.received_at,
            "processedAt": self.processed_at,
            "durationMs": round(self.duration_ms, 1),
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2).encode()

    def errors_csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("line", "reason", "message", "content"))
        writer.writerows(self.errors)
        if self.rejected > len(self.errors):
            more = self.rejected - len(self.errors)
            writer.writerow(("", "truncated", f"{more} more rejected lines not listed", ""))
        return out.getvalue().encode()
