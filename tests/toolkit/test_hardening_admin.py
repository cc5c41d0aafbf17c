"""Issue 10, D7-D10: an admin API that is safe when exposed (real sockets, real subprocesses)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mocksrv.server import ServerThread
from tests.support.cli import Serve
from tests.support.paths import SCENARIOS
from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer

TOKEN = "s3cret-admin-token-for-tests"
PRIME_PATH = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"


def alias_bomb(levels: int = 8) -> str:
    """Each level lists the one below nine times: 9**levels nodes once expanded (43M for 8)."""
    lines = [
        "version: 1",
        'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
    ]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


DEEP_YAML = "version: 1\nx: " + "[" * 3000 + "]" * 3000 + "\n"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def local(module_server_factory):
    return module_server_factory()


@pytest.fixture(scope="module")
def guarded(module_server_factory):
    return module_server_factory(admin_token=TOKEN)


def admin(srv, method: str, path: str, **kw) -> requests.Response:
    kw.setdefault("timeout", 10)
    return requests.request(method, f"{srv.url}/__admin{path}", **kw)


# --- D8, D7: YAML limits ---------------------------------------------------------------------
def test_alias_bomb_posted_to_the_admin_api_is_refused_fast_and_small():
    srv = Serve()
    try:
        requests.get(f"{srv.url}/__admin/health", timeout=10)  # the admin app loaded
        before = rss_kib(srv.proc.pid)
        started = time.monotonic()
        r = requests.post(f"{srv.url}/__admin/scenarios", json={"yaml": alias_bomb(8)}, timeout=30)
        elapsed = time.monotonic() - started
        grown_mib = (rss_kib(srv.proc.pid) - before) / 1024
    finally:
        err = srv.stop()
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "InvalidScenario"
    assert "aliases expand to more than" in r.json()["error"]["message"]
    assert elapsed < 1.0, elapsed
    assert grown_mib < 50, grown_mib
    assert "Traceback" not in err


def test_deep_yaml_posted_is_an_invalid_scenario(local):
    r = admin(local, "POST", "/scenarios", json={"yaml": DEEP_YAML})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["problems"] == [
        "<admin>/posted.yaml:2: (yaml): nested deeper than 64 levels"
    ]


@pytest.mark.parametrize("text", [DEEP_YAML, alias_bomb(8), "version: 1\na: &a [*a]\n"])
def test_serve_refuses_such_a_file_with_a_message_and_exit_2(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "mocksrv", "serve", "--port", "0", "--scenario", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("mocksrv: invalid scenario:\n  " + str(path)), proc.stderr


# --- D9: what the admin API may read -----------------------------------------------------------
@pytest.fixture
def rooted(tmp_path, server_factory) -> tuple[ServerThread, Path, Path]:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "a.yaml").write_text((SCENARIOS / "default.yaml").read_text())
    (outside / "secret.yaml").write_text("version: 1\nname: top-secret-content\nbogus: [1]\n")
    # the admin API may load only what the server started with (Settings.scenario_paths)
    srv = server_factory([str(allowed)], scenario_paths=[str(allowed)])
    return srv, allowed, outside


def test_only_start_up_paths_load(rooted):
    srv, allowed, outside = rooted
    assert admin(srv, "POST", "/scenarios", json={"paths": [str(allowed / "a.yaml")]}).ok
    (allowed / "link.yaml").symlink_to(outside / "secret.yaml")
    refused = [
        [str(outside / "secret.yaml")],
        [str(outside / "missing.yaml")],
        [str(allowed / ".." / "outside" / "secret.yaml")],
        [str(allowed / "link.yaml")],
        [str(allowed)],  # the directory now holds a link that leaves it
        ["/etc/passwd"],
        ["/proc/self/environ"],
    ]
    answers = set()
    for paths in refused:
        r = admin(srv, "POST", "/scenarios", json={"paths": paths})
        assert r.status_code == 403, (paths, r.text)
        assert "top-secret" not in r.text and "secret.yaml" not in r.text
        answers.add(r.text)
    assert len(answers) == 1  # exists or not, inside a link or not: the same answer


def test_a_huge_file_in_an_allowed_directory_is_refused_unread(rooted):
    srv, allowed, _ = rooted
    huge = allowed / "huge.yaml"
    with huge.open("wb") as fh:  # sparse: 400 MB that take no disk
        fh.truncate(400 * 1024 * 1024)
    started = time.monotonic()
    r = admin(srv, "POST", "/scenarios", json={"paths": [str(huge)]})
    assert r.status_code == 400, r.text
    assert "larger than 8388608 bytes" in r.json()["error"]["message"]
    assert time.monotonic() - started < 1.0


# --- D10: CSRF, DNS rebinding, token, secrets, body cap ---------------------------------------
def test_csrf_shaped_writes_are_refused(local):
    r = admin(local, "POST", "/reset", data=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "UnsupportedMediaType"
    r = admin(local, "POST", "/reset", data=b"x=1")  # a form post
    assert r.status_code == 415
    for origin in ("http://evil.example", "null", f"http://localhost:{local.port + 1}"):
        r = admin(local, "POST", "/reset", json={}, headers={"Origin": origin})
        assert r.status_code == 403, origin
        assert r.json()["error"] == {
            "code": "Forbidden", "message": "cross-origin admin requests are refused"}  # fmt: skip
    same = f"http://127.0.0.1:{local.port}"
    assert admin(local, "POST", "/reset", json={}, headers={"Origin": same}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.nip.io"])
def test_dns_rebinding_host_is_refused_on_the_admin_api_only(local, host):
    r = admin(local, "GET", "/identities", headers={"Host": host})
    assert r.status_code == 403
    assert "secret" not in r.text
    # the emulated APIs answer any Host (real host names, S3 virtual hosts)
    url = f"http://{host.split(':')[0]}{PRIME_PATH}"
    hdrs = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1").headers(
        "GET", url, {"x-amz-marketplace": "US", "x-amz-request-id": "r1"}
    )
    r = requests.get(
        local.url + PRIME_PATH, headers={**hdrs, "Host": host.split(":")[0]}, timeout=10
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_own_host_names_are_accepted(local, host):
    r = admin(local, "GET", "/version", headers={"Host": f"{host}:{local.port}"})
    assert r.status_code == 200


def test_token_required_when_configured(guarded):
    r = admin(guarded, "GET", "/identities")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "secret" not in r.text
    bad = admin(guarded, "GET", "/version", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    good = admin(guarded, "GET", "/identities", headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200
    assert all(i["secret_key"] for i in good.json()["identities"])
    # with the token, any Host is fine (a compose service name); a browser never has the token
    named = admin(guarded, "GET", "/version",
                  headers={"Authorization": f"Bearer {TOKEN}", "Host": "mocksrv:4599"})  # fmt: skip
    assert named.status_code == 200


def test_admin_bodies_are_capped(local):
    body = b'{"yaml": "' + b"x" * (1024 * 1024) + b'"}'
    r = admin(local, "POST", "/scenarios", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "PayloadTooLarge"

    def chunks():
        yield b'{"yaml": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    r = admin(
        local, "POST", "/scenarios", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text


def test_405_names_the_allowed_methods(local):
    r = admin(local, "PATCH", "/clock", json={})
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, POST, PUT"
    assert r.json()["error"]["code"] == "MethodNotAllowed"


# --- serve --host 0.0.0.0 ------------------------------------------------------------------
def test_serve_on_all_interfaces_generates_a_token_and_requires_it():
    srv = Serve("--host", "0.0.0.0")
    try:
        token = srv.token()
        assert token and len(token) >= 24
        assert srv.url.startswith("http://127.0.0.1:")  # we connect to loopback only
        r = requests.get(f"{srv.url}/__admin/identities", timeout=10)
        assert r.status_code == 401 and "secret" not in r.text
        auth = {"Authorization": f"Bearer {token}"}
        r = requests.get(f"{srv.url}/__admin/identities", headers=auth, timeout=10)
        assert r.status_code == 200 and r.json()["identities"][0]["secret_key"]
        r = requests.post(f"{srv.url}/__admin/reset", json={}, headers=auth, timeout=10)
        assert r.status_code == 200
    finally:
        err = srv.stop()
    assert "Traceback" not in err


def test_serve_takes_the_token_from_the_environment():
    srv = Serve("--host", "0.0.0.0", env={"MOCKSRV_ADMIN_TOKEN": TOKEN})
    try:
        assert srv.token() is None  # given, so neither generated nor printed
        assert requests.get(f"{srv.url}/__admin/version", timeout=10).status_code == 401
        from mocksrv.toolkit.client import Mocksrv

        handle = Mocksrv(srv.url, token=TOKEN)
        try:
            handle.reset()
            assert handle.prime().verify("123456789").json() == {"message": "SUCCESS"}
        finally:
            handle.close()
    finally:
        srv.stop()
