"""Scenarios preload a promotion's inventory; the default does, so a fresh demo hands out codes."""

from __future__ import annotations

import subprocess
import sys

import requests

from tests.support.paths import ROOT

BASE = """\
version: 1
identities:
  - {name: c1, api: promotions, access_key: AKIAMOCKSRVPRELOAD01, secret_key: MockSrvPreloadSecret00000000000001}
promotions:
  environments: {devo: {bucket: preload-devo}, prod: {bucket: preload-prod}}
  clients:
    - name: c1
      identity: c1
      promotions:
        - id: P1
          marketplace: US
          offer_type: deal
          url_template: "https://example.com/?c={code}"
          code_max_length: 8
          code_charset: "A-Z0-9-"
"""


def landing(
    url: str, member: str, promotion: str = "PROMO-0001", **params: str
) -> requests.Response:
    return requests.get(
        f"{url}/promotions/{promotion}/landing", params={"member": member, **params}, timeout=10
    )


def test_fresh_default_hands_out_a_code(server_factory):
    srv = server_factory()  # the embedded default, as `mocksrv serve` runs it
    r = landing(srv.url, "amzn1.member.42")
    assert r.status_code == 200, r.text
    assert r.json()["code"] == "DEMO-CODE-001"
    assert r.json()["url"] == "https://partner.example.com/prime?code=DEMO-CODE-001"
    state = requests.get(f"{srv.url}/__admin/state/promotions", timeout=5).json()
    devo = next(p for p in state["inventory"] if p["environment"] == "devo")
    assert (devo["available"], devo["assigned"]) == (4, 1)


def test_listed_codes_per_environment(tmp_path, server_factory):
    f = tmp_path / "s.yaml"
    f.write_text(BASE + "          inventory: {devo: [A-1, A-2], prod: [B-1]}\n")
    srv = server_factory([str(f)])
    assert landing(srv.url, "m1", "P1").json()["code"] == "A-1"
    assert landing(srv.url, "m2", "P1").json()["code"] == "A-2"
    assert landing(srv.url, "m3", "P1").status_code == 409
    assert landing(srv.url, "m1", "P1", environment="prod").json()["code"] == "B-1"


def test_preloaded_codes_are_checked_like_uploaded_ones(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        BASE
        + "          inventory: {devo: [ok-1, TOO-LONG-9, A-1, A-1], prod: {count: 1000, prefix: LONGPRE}}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mocksrv", "validate", str(f)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{f}:16: promotions.clients[0].promotions[0].inventory.devo[0]: 'ok-1' has characters outside code_charset",
        f"{f}:16: promotions.clients[0].promotions[0].inventory.devo[1]: 'TOO-LONG-9' is longer than code_max_length 8",
        f"{f}:16: promotions.clients[0].promotions[0].inventory.devo: duplicate codes",
        f"{f}:16: promotions.clients[0].promotions[0].inventory.prod: 'LONGPRE1000' is longer than code_max_length 8",
    ]
