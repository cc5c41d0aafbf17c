"""Every bad input ends in a report that names the problem; nothing already accepted is lost."""

from __future__ import annotations

import pytest
import requests

from tests.support.paths import ROOT
from tests.support.promotions import (
    NEW,
    REDEEMED,
    errors_csv,
    file_name,
    s3_client,
    upload,
    wait_report,
)

FILE_PATTERN = (
    "<ClientName>_new_codes_YYYYMMDD_HHMM.csv or <ClientName>_redeemed_codes_YYYYMMDD_HHMM.csv"
)


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory()


@pytest.fixture(scope="module")
def s3(server):  # type: ignore[no-untyped-def]
    return s3_client(server.url)


def file_errors(report: dict) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in report["fileErrors"]]


def accepted_later(s3, code: str) -> bool:  # type: ignore[no-untyped-def]
    """True if `code` is still unknown to the inventory (a later upload accepts it)."""
    report = wait_report(s3, upload(s3, f"{code},new\n".encode()))
    return bool(report["rows"]["accepted"] == 1)


def test_bom_rejects_the_file(s3):
    key = upload(s3, b"\xef\xbb\xbfBOM-1,new\nBOM-2,new\n")
    report = wait_report(s3, key)
    assert report["status"] == "REJECTED"
    assert file_errors(report) == [
        (
            "bom",
            "file starts with a UTF-8 byte-order mark (BOM); save it as plain UTF-8 without BOM",
        )
    ]
    assert report["rows"]["accepted"] == 0
    assert accepted_later(s3, "BOM-2")


def test_header_row_is_rejected_rest_accepted(s3):
    key = upload(s3, b"promo_code,status\nHDR-1,new\nHDR-2,new\n")
    report = wait_report(s3, key)
    assert report["status"] == "PARTIALLY_ACCEPTED"
    assert report["rows"] == {"total": 3, "accepted": 2, "rejected": 1}
    assert report["reasons"] == {"header_row": 1}
    assert errors_csv(s3, key) == [
        ["line", "reason", "message", "content"],
        [
            "1",
            "header_row",
            "looks like a header row; files have no header, only <promo_code>,<status>",
            "promo_code,status",
        ],
    ]


def test_latin1_bytes_reject_the_file_and_apply_nothing(s3):
    body = "LAT-1,new\nCAFÉ-2,new\nLAT-3,new\n".encode("latin-1")
    report = wait_report(s3, upload(s3, body))
    assert report["status"] == "REJECTED"
    assert file_errors(report) == [
        (
            "not_utf8",
            "file is not UTF-8: byte 0xC9 on line 2 cannot be decoded (Latin-1/Windows-1252?); "
            "save it as plain UTF-8 without BOM",
        )
    ]
    assert report["rows"]["accepted"] == 0
    assert accepted_later(s3, "LAT-1")  # line 1 was read but not applied


def test_three_columns(s3):
    key = upload(s3, b"THREE-1,new,extra\nTHREE-2,new\n")
    report = wait_report(s3, key)
    assert report["reasons"] == {"column_count": 1}
    assert errors_csv(s3, key)[1] == [
        "1",
        "column_count",
        "expected 2 columns <promo_code>,<status>; found 3",
        "THREE-1,new,extra",
    ]


def test_wrong_status(s3):
    key = upload(s3, b"WS-1,New\nWS-2,redeemed\nWS-3,new\n")
    report = wait_report(s3, key)
    assert report["reasons"] == {"wrong_status": 2}
    rows = errors_csv(s3, key)
    assert rows[1][:3] == [
        "1",
        "wrong_status",
        "status 'New' is not 'new' (every row of a new file has status 'new', case-sensitive)",
    ]
    assert rows[2][:2] == ["2", "wrong_status"]


@pytest.mark.parametrize(
    ("name", "reason", "message"),
    [
        ("codes.csv", "file_name", f"file name 'codes.csv' does not match {FILE_PATTERN}"),
        (
            "clientname_new_codes_2026-05-15_1400.csv",
            "file_name",
            f"file name 'clientname_new_codes_2026-05-15_1400.csv' does not match {FILE_PATTERN}",
        ),
        (
            "clientname_new_codes_20260230_1400.csv",
            "bad_date",
            "'20260230_1400' in the file name is not a real UTC date and time (YYYYMMDD_HHMM)",
        ),
        (
            "clientname_new_codes_20260515_2460.csv",
            "bad_date",
            "'20260515_2460' in the file name is not a real UTC date and time (YYYYMMDD_HHMM)",
        ),
        (
            "otherclient_new_codes_20260515_1400.csv",
            "file_client_mismatch",
            "file name starts with 'otherclient', not the client name 'clientname'",
        ),
    ],
)
def test_wrong_file_name_or_date(s3, name, reason, message):
    report = wait_report(s3, upload(s3, b"NAME-1,new\n", name=name))
    assert report["status"] == "REJECTED"
    assert file_errors(report) == [(reason, message)]


@pytest.mark.parametrize(
    ("prefix", "kind", "reason", "message"),
    [
        (
            REDEEMED,
            "new",
            "kind_mismatch",
            "a new file uploaded under redeemed-promo-codes/; new files go under new-promo-codes/",
        ),
        (
            "new-promo-codes/clientname=clientname/marketplace=US/promotionid=PROMO-0001/",
            "new",
            "layout",
            "key must be new-promo-codes/clientname=<ClientName>/marketplace=<Marketplace>/"
            "offertype=<OfferType>/promotionid=<PromotionId>/<file>; got 'KEY'",
        ),
        (
            "new-promo-codes/clientname=clientname/marketplace=US/offertype=student-promo-deal/"
            "promotionid=PROMO-9999/",
            "new",
            "unknown_promotion",
            "promotionid=PROMO-9999 is not a promotion of client 'clientname'",
        ),
        (
            "new-promo-codes/clientname=clientname/marketplace=UK/offertype=student-promo-deal/"
            "promotionid=PROMO-0001/",
            "new",
            "partition_mismatch",
            "marketplace=UK does not match promotion PROMO-0001's marketplace 'US'",
        ),
    ],
)
def test_wrong_prefix(s3, prefix, kind, reason, message):
    key = upload(s3, b"PFX-1,new\n", name=file_name(kind), prefix=prefix)
    report = wait_report(s3, key)
    assert report["status"] == "REJECTED"
    assert file_errors(report) == [(reason, message.replace("KEY", key))]


def test_empty_file(s3):
    for body in (b"", b"\n"):
        report = wait_report(s3, upload(s3, body))
        assert report["status"] == "REJECTED"
        assert ("empty_file", "file is empty: it holds no promo codes") in file_errors(report)


def test_same_file_twice_is_not_applied_again(server, s3):
    name = file_name()
    first = wait_report(s3, upload(s3, b"TWICE-1,new\nTWICE-2,new\n", name=name))
    assert first["status"] == "ACCEPTED"
    second = wait_report(s3, upload(s3, b"TWICE-1,new\nTWICE-2,new\nTWICE-3,new\n", name=name))
    assert second["status"] == "REJECTED"
    [(reason, message)] = file_errors(second)
    assert reason == "duplicate_file"
    assert message == (
        f"file {name!r} was already processed at {first['processedAt']} (ACCEPTED); "
        "nothing was applied again"
    )
    assert second["inventory"] == first["inventory"]  # nothing lost, nothing added
    history = server.app.runtime.stores["promotions"].snapshot()["reports"]
    assert [r["status"] for r in history if r["file"] == name] == ["ACCEPTED", "REJECTED"]


def test_redeemed_code_never_issued_and_other_redeemed_rows(server, s3):
    wait_report(s3, upload(s3, b"RED-1,new\nRED-2,new\n"))
    body = b"RED-1,redeemed\nRED-1,redeemed\nNEVER-1,redeemed\n,redeemed\nRED-2,Redeemed\n"
    key = upload(s3, body, kind="redeemed")
    report = wait_report(s3, key)
    assert report["status"] == "PARTIALLY_ACCEPTED"
    assert report["reasons"] == {
        "duplicate_in_file": 1,
        "empty_code": 1,
        "unknown_code": 1,
        "wrong_status": 1,
    }
    rows = {r[0]: r[1:3] for r in errors_csv(s3, key)[1:]}
    assert rows["3"] == ["unknown_code", "promo code was never uploaded to this promotion"]
    assert rows["2"] == ["duplicate_in_file", "promo code appears earlier in this file"]
    again = wait_report(s3, upload(s3, b"RED-1,redeemed\n", kind="redeemed"))
    assert again["reasons"] == {"already_redeemed": 1}


def test_row_checks_of_new_files(s3):
    wait_report(s3, upload(s3, b"ROW-1,new\n"))
    body = (
        b"ROW-1,new\nROW-2,new\nROW-2,new\n \t,new\n\n"
        + b"X" * 65
        + b",new\nBAD CODE!,new\nROW-3,new\r\nROW-4,new"
    )
    key = upload(s3, body)
    report = wait_report(s3, key)
    assert report["rows"] == {"total": 9, "accepted": 3, "rejected": 6}
    rows = {r[0]: r[1:3] for r in errors_csv(s3, key)[1:]}
    assert rows == {
        "1": ["already_in_inventory", "promo code was already uploaded to this promotion"],
        "3": ["duplicate_in_file", "promo code appears earlier in this file"],
        "4": ["empty_code", "promo code is empty or whitespace"],
        "5": ["empty_line", "empty line"],
        "6": ["code_too_long", "promo code is 65 characters; the limit is 64"],
        "7": ["bad_characters", "promo code contains ' '; allowed characters are [A-Za-z0-9_-]"],
    }


def test_low_inventory_warning(s3):
    report = wait_report(s3, upload(s3, b"LOW-1,new\n"))
    available = report["inventory"]["available"]
    assert report["warnings"] == [
        {
            "reason": "low_inventory",
            "message": f"promotion PROMO-0001 has {available} available codes, below its "
            "low-inventory threshold of 100; upload more codes",
        }
    ]


def test_errors_are_capped_and_prod_enabled_scenario(server_factory):
    srv = server_factory([str(ROOT / "scenarios" / "promotions-prod-enabled.yaml")])
    s3 = s3_client(srv.url)
    body = b"".join(f"cap-{i},new\n".encode() for i in range(20)) + b"CAP-OK,new\n"
    key = NEW + file_name()
    s3.put_object(Bucket="partner-promotions", Key=key, Body=body)
    report = wait_report(s3, key, bucket="partner-promotions")
    assert report["environment"] == "prod"
    assert report["reasons"] == {"bad_characters": 20}
    assert (report["errorsListed"], report["errorsNotListed"]) == (5, 15)
    rows = errors_csv(s3, key, bucket="partner-promotions")
    assert len(rows) == 1 + 5 + 1
    assert rows[-1] == ["", "truncated", "15 more rejected lines not listed", ""]
    assert report["warnings"][0]["reason"] == "low_inventory"
    r = requests.get(
        f"{srv.url}/promotions/PROMO-0001/landing",
        params={"member": "m1", "environment": "prod"},
        timeout=10,
    )
    assert r.json()["url"] == "https://partner.example.com/prime?code=CAP-OK&m=m1"
