"""Admin reads of the journal cost what they return (D23): `GET /__admin/journal?limit=N` walks
newest first and formats only the N entries it returns, `journal/{requestId}` is an index lookup.
The count of entries formatted is read from the journal module's formatter, in this process's
server, around one admin request each."""

from __future__ import annotations

import pytest
import requests

import mocksrv.toolkit.journal as journal_module
from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer

FILLER = 2000
VERIFY = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/{code}/verify"


class Counted:
    """The journal's formatter, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = journal_module.entry_of_raw

    def __call__(self, raw):
        self.calls += 1
        return self.real(raw)


def fill(url: str, count: int) -> list[str]:
    """`count` unsigned requests (S3 refuses them; each is journaled); their request ids."""
    with requests.Session() as s:
        return [s.get(f"{url}/filler-{i}", timeout=10).headers["x-amz-request-id"]
                for i in range(count)]  # fmt: skip


def verify(url: str, code: str) -> str:
    signer = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
    r = signer.send("GET", url + VERIFY.format(code=code), {"x-amz-marketplace": "US"},
                    unsigned={"x-amz-request-id": code})  # fmt: skip
    assert r.status_code == 200, r.text
    return str(r.headers["x-amzn-RequestId"])


@pytest.fixture(scope="module")
def server(module_server_factory):
    srv = module_server_factory()
    prime = [verify(srv.url, "123456789") for _ in range(5)]
    ids = fill(srv.url, FILLER)
    srv.ids = {"prime": prime, "filler": ids}
    return srv


@pytest.fixture
def counted(monkeypatch):
    counter = Counted()
    monkeypatch.setattr(journal_module, "entry_of_raw", counter)
    return counter


def test_a_read_of_five_formats_five(server, counted):
    page = requests.get(f"{server.url}/__admin/journal", params={"limit": 5}, timeout=10).json()
    assert counted.calls == 5
    assert page["size"] >= FILLER + 5 and page["count"] == 5
    assert [e["requestId"] for e in page["entries"]] == server.ids["filler"][::-1][:5]


def test_a_filtered_read_formats_only_what_matches(server, counted):
    page = requests.get(f"{server.url}/__admin/journal", params={"api": "prime", "limit": 3},
                        timeout=10).json()  # fmt: skip
    assert counted.calls == 3
    assert [e["requestId"] for e in page["entries"]] == server.ids["prime"][::-1][:3]
    assert {e["operation"] for e in page["entries"]} == {"verify"}


def test_one_entry_by_request_id_formats_one(server, counted):
    oldest = server.ids["prime"][0]  # the far end of the ring from the newest
    r = requests.get(f"{server.url}/__admin/journal/{oldest}", timeout=10)
    assert r.status_code == 200 and r.json()["entry"]["requestId"] == oldest
    assert counted.calls == 1


def test_an_unknown_request_id_formats_none(server, counted):
    r = requests.get(f"{server.url}/__admin/journal/no-such-request", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"
    assert counted.calls == 0


def test_the_index_forgets_entries_the_ring_dropped(server_factory, tmp_path):
    scenario = tmp_path / "small-journal.yaml"
    scenario.write_text("version: 1\nextends: default\njournal: {capacity: 10}\n")
    srv = server_factory([str(scenario)])
    ids = fill(srv.url, 25)
    for rid in ids[:15]:  # dropped from the ring: not found by id either
        assert requests.get(f"{srv.url}/__admin/journal/{rid}", timeout=10).status_code == 404
    for rid in ids[15:]:
        r = requests.get(f"{srv.url}/__admin/journal/{rid}", timeout=10)
        assert r.status_code == 200 and r.json()["entry"]["requestId"] == rid
    page = requests.get(f"{srv.url}/__admin/journal", timeout=10).json()
    assert [e["requestId"] for e in page["entries"]] == ids[15:][::-1]
    assert page["dropped"] == 15


def test_since_keeps_the_entries_time_precision(server):
    """`since` equal to an entry's own `time` (milliseconds) includes it, as before."""
    newest = requests.get(f"{server.url}/__admin/journal", params={"limit": 1},
                          timeout=10).json()["entries"][0]  # fmt: skip
    page = requests.get(f"{server.url}/__admin/journal", params={"since": newest["time"]},
                        timeout=10).json()  # fmt: skip
    assert newest["requestId"] in [e["requestId"] for e in page["entries"]]
    assert all(e["time"] >= newest["time"] for e in page["entries"])
