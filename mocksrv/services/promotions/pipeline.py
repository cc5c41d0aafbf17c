"""The processing pipeline of one uploaded file: key and name checks, streamed row checks, commit."""

from __future__ import annotations

import codecs
import contextlib
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from mocksrv.services.promotions.config import (
    NEW_PREFIX,
    REDEEMED_PREFIX,
    Client,
    Promotion,
    PromotionsConfig,
)
from mocksrv.services.promotions.inventory import PENDING, REDEEMED, Inventory, Pool
from mocksrv.services.promotions.reports import Report
from mocksrv.services.promotions.s3 import ObjectGone

KIND_OF_PREFIX = {NEW_PREFIX: "new", REDEEMED_PREFIX: "redeemed"}
PREFIX_OF_KIND = {v: k for k, v in KIND_OF_PREFIX.items()}
LAYOUT = "clientname=<ClientName>/marketplace=<Marketplace>/offertype=<OfferType>/promotionid=<PromotionId>/"
FILE_NAME = re.compile(r"^(?P<client>.+)_(?P<kind>new|redeemed)_codes_(?P<stamp>\d{8}_\d{4})\.csv$")
FILE_PATTERN = (
    "<ClientName>_new_codes_YYYYMMDD_HHMM.csv or <ClientName>_redeemed_codes_YYYYMMDD_HHMM.csv"
)
HEADER_WORDS = {"status", "promo_code", "promocode", "promo code", "code", "claim_code"}
BOM = b"\xef\xbb\xbf"

Reader = Callable[[int], bytes]  # offset -> next chunk (b"" at the end)


def check_key(report: Report, cfg: PromotionsConfig, client: Client) -> Promotion | None:
    """File-level checks on the key and file name; records errors, returns the promotion."""
    prefix = NEW_PREFIX if report.key.startswith(NEW_PREFIX) else REDEEMED_PREFIX
    report.kind = KIND_OF_PREFIX[prefix]
    parts = report.key[len(prefix) :].split("/")
    names = ("clientname", "marketplace", "offertype", "promotionid")
    values = [p.partition("=")[2] for p in parts[:4]]
    if len(parts) != 5 or any(
        not p.startswith(n + "=") for p, n in zip(parts, names, strict=False)
    ):
        report.file_error("layout", expected=prefix + LAYOUT, key=report.key)
        return None
    found_client, report.marketplace, report.offer_type, report.promotion = values
    promo = client.promotions.get(report.promotion)
    if found_client != client.name:
        report.file_error("client_mismatch", found=found_client, client=client.name)
    elif promo is None:
        report.file_error("unknown_promotion", found=report.promotion, client=client.name)
    else:
        for name, found, expected in (
            ("marketplace", report.marketplace, promo.marketplace),
            ("offertype", report.offer_type, promo.offer_type),
        ):
            if found != expected:
                report.file_error(
                    "partition_mismatch",
                    name=name,
                    found=found,
                    promotion=promo.id,
                    expected=expected,
                )
    _check_name(report, client)
    return promo if not report.file_errors else None


def _check_name(report: Report, client: Client) -> None:
    name = report.file_name
    match = FILE_NAME.match(name)
    if match is None:
        report.file_error("file_name", name=name, expected=FILE_PATTERN)
        return
    if match["client"] != client.name:
        report.file_error("file_client_mismatch", found=match["client"], client=client.name)
    if match["kind"] != report.kind:
        prefix = PREFIX_OF_KIND[report.kind]
        report.file_error(
            "kind_mismatch",
            kind=match["kind"],
            prefix=prefix,
            expected=PREFIX_OF_KIND[match["kind"]],
        )
    try:
        datetime.strptime(match["stamp"], "%Y%m%d_%H%M")
    except ValueError:
        report.file_error("bad_date", stamp=match["stamp"])


def lines(read: Reader, report: Report) -> Iterator[list[str]]:
    """Decoded lines in batches, streamed chunk by chunk. Records `bom`, `not_utf8` and
    `empty_file` as file errors (then stops); CRLF and one trailing newline are fine."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset, carry, line_no, seen_text = 0, "", 0, False
    while True:
        chunk = read(offset)
        if offset == 0 and chunk.startswith(BOM):
            report.file_error("bom")
            return
        offset += len(chunk)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = line_no + carry.count("\n") + chunk[: exc.start].count(b"\n") + 1
            report.file_error("not_utf8", byte=chunk[exc.start] if chunk else 0, line=line)
            return
        if not chunk:
            break
        batch = (carry + text).split("\n")
        carry = batch.pop()
        seen_text = seen_text or bool(text.strip())
        line_no += len(batch)
        yield batch
    if carry:
        yield [carry]
    if not seen_text:
        report.file_error("empty_file")


def process_new(
    report: Report, promo: Promotion, pool: Pool, batch: list[str], first: int
) -> list[str]:
    """Row checks of a new-codes batch (inventory lock held); stages accepted codes as PENDING.
    A batch whose every line is valid and whose codes are all fresh is applied in C-level
    passes (one regex match, one dict); any other batch goes row by row for exact reasons."""
    text = "\n".join(batch)
    if promo.valid_new is not None and promo.valid_new.fullmatch(text):
        codes = text.replace(",new\r", "").replace(",new", "").split("\n")  # codes hold no ","
        fresh = dict.fromkeys(codes, PENDING)
        if len(fresh) == len(codes) and pool.state.keys().isdisjoint(fresh):
            pool.state.update(fresh)
            return codes
    return _process_new_rows(report, promo, pool, batch, first)


def _process_new_rows(
    report: Report, promo: Promotion, pool: Pool, batch: list[str], first: int
) -> list[str]:
    state, staged, too_long, bad_char = pool.state, [], promo.max_length, promo.bad_char.search
    line = first
    for raw in batch:
        line += 1
        row = raw[:-1] if raw.endswith("\r") else raw
        code, sep, status = row.partition(",")
        if status == "new" and code and len(code) <= too_long and bad_char(code) is None:
            if code not in state:
                state[code] = PENDING
                staged.append(code)
            else:
                reason = "duplicate_in_file" if state[code] == PENDING else "already_in_inventory"
                report.row_error(line, reason, row)
            continue
        _row_problem(report, promo, line, row, "new")
    return staged


def process_redeemed(
    report: Report,
    promo: Promotion,
    pool: Pool,
    batch: list[str],
    first: int,
    staged: dict[str, int],
) -> None:
    """Row checks of a redeemed-codes batch (inventory lock held); stages codes to mark."""
    state, too_long, bad_char = pool.state, promo.max_length, promo.bad_char.search
    line = first
    for raw in batch:
        line += 1
        row = raw[:-1] if raw.endswith("\r") else raw
        code, sep, status = row.partition(",")
        if status == "redeemed" and code and len(code) <= too_long and bad_char(code) is None:
            current = state.get(code)
            if code in staged:
                report.row_error(line, "duplicate_in_file", row)
            elif current is None or current == PENDING:
                report.row_error(line, "unknown_code", row)
            elif current == REDEEMED:
                report.row_error(line, "already_redeemed", row)
            else:
                staged[code] = line
            continue
        _row_problem(report, promo, line, row, "redeemed")


def _row_problem(report: Report, promo: Promotion, line: int, row: str, kind: str) -> None:
    """The specific reason a row failed the fast path."""
    cols = row.split(",")
    if line == 1 and any(c.strip().lower() in HEADER_WORDS for c in cols):
        report.row_error(line, "header_row", row)
    elif not row.strip():
        report.row_error(line, "empty_line", row)
    elif len(cols) != 2:
        report.row_error(line, "column_count", row, count=len(cols))
    elif cols[1] != kind:
        report.row_error(line, "wrong_status", row, status=cols[1], expected=kind, kind=kind)
    elif not cols[0].strip():
        report.row_error(line, "empty_code", row)
    elif len(cols[0]) > promo.max_length:
        report.row_error(line, "code_too_long", row, length=len(cols[0]), limit=promo.max_length)
    else:
        bad = promo.bad_char.search(cols[0])
        report.row_error(
            line, "bad_characters", row, char=bad[0] if bad else "?", charset=promo.charset
        )


def check_rows(
    report: Report, promo: Promotion, pool: Pool, read: Reader, lock: Any = None
) -> tuple[str, list[str]]:
    """Stream the rows and check each against `pool` (holding `lock` per batch, if given);
    returns the file's kind and the codes to apply: all its accepted ones, or none when a
    file-level error came up (the staged new codes are taken out of the pool again)."""
    started = time.perf_counter()
    guard = lock if lock is not None else contextlib.nullcontext()
    staged_new: list[str] = []
    staged_redeemed: dict[str, int] = {}
    first = 0
    try:
        for batch in lines(read, report):
            with guard:
                if report.kind == "new":
                    staged_new.extend(process_new(report, promo, pool, batch, first))
                else:
                    process_redeemed(report, promo, pool, batch, first, staged_redeemed)
            first += len(batch)
            report.rows = first
    except ObjectGone:
        report.file_error("object_gone")
    staged = staged_new if report.kind == "new" else list(staged_redeemed)
    if report.file_errors:
        with guard:
            for code in staged_new:
                if pool.state.get(code) == PENDING:
                    del pool.state[code]
        report.discard_rows()
        staged = []
    else:
        report.accepted = len(staged)
    report.duration_ms = (time.perf_counter() - started) * 1000
    return report.kind, staged


def run_rows(
    report: Report, promo: Promotion, inventory: Inventory, read: Reader, env: str
) -> None:
    """Check the rows, then commit everything accepted (the memory engine's inventory)."""
    with inventory.lock:
        pool = inventory.pool(env, promo.id)
    kind, staged = check_rows(report, promo, pool, read, inventory.lock)
    with inventory.lock:
        if staged and kind == "new":
            inventory.commit_new(pool, staged)
        elif staged:
            inventory.commit_redeemed(pool, dict.fromkeys(staged, 0))
        report.inventory = pool.summary()
    available = report.inventory["available"]
    if available < promo.threshold:
        report.warnings.append(low_inventory(promo, available))


def low_inventory(promo: Promotion, available: int) -> dict[str, str]:
    return {
        "reason": "low_inventory",
        "message": f"promotion {promo.id} has {available} available codes, below its "
        f"low-inventory threshold of {promo.threshold}; upload more codes",
    }
