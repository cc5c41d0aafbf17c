"""What AGCOD records for the journal: operation, identity, request fields and outcome."""

from __future__ import annotations

from tests.support.agcod import DEFAULT, UNTHROTTLED, Client


def test_journal_records_agcod_calls(server_factory):
    srv = server_factory.in_process([DEFAULT, UNTHROTTLED])
    client = Client(srv, "MocksProd")
    card = client.create("MocksProdJ1", 12.5).json()
    client.create("MocksProdJ2", 0)
    client.create("MocksProdJ3", 1, secret="z" * 40)
    r = client.session.get(f"{srv.url}/__admin/journal", params={"api": "agcod"}, timeout=5)
    entries = r.json()["entries"]
    by_id = {e["fields"].get("creationRequestId"): e for e in entries}
    ok = by_id["MocksProdJ1"]
    assert ok["operation"] == "CreateGiftCard"
    assert ok["identity"] == "agcod-production"
    assert ok["outcome"] == "SUCCESS"
    assert ok["status"] == 200
    assert ok["fields"]["amount"] == 12.5
    assert ok["fields"]["currencyCode"] == "USD"
    assert ok["fields"]["partnerId"] == "MocksProd"
    assert ok["fields"]["gcId"] == card["gcId"]
    assert by_id["MocksProdJ2"]["outcome"] == "F200:InvalidAmountValue"
    bad = [e for e in entries if e["outcome"] == "signature:mismatch"]
    assert len(bad) == 1 and bad[0]["status"] == 403
