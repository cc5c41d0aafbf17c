"""The admin API's Origin check compares the scheme too: a page of `https://host:port` is another
origin than the `http://` listener on that host and port, and the other way round (RFC 6454)."""

from __future__ import annotations

import pytest
import requests

REFUSED = {"code": "Forbidden", "message": "cross-origin admin requests are refused"}


@pytest.fixture(scope="module")
def server(module_server_factory, tmp_path_factory):
    return module_server_factory(tls_port=0, ca_dir=tmp_path_factory.mktemp("ca") / "ca")


def reset(url: str, origin: str, **kw) -> requests.Response:
    return requests.post(f"{url}/__admin/reset", json={}, headers={"Origin": origin}, timeout=10,
                         **kw)  # fmt: skip


def test_an_https_origin_is_refused_by_the_http_listener(server):
    host = server.url.split("://", 1)[1]
    r = reset(server.url, f"https://{host}")
    assert r.status_code == 403 and r.json()["error"] == REFUSED
    assert reset(server.url, f"http://{host}").status_code == 200


def test_an_http_origin_is_refused_by_the_https_listener(server):
    host = server.tls_url.split("://", 1)[1]
    ca = str(server.app.runtime.settings.ca_dir / "ca.pem")
    r = reset(server.tls_url, f"http://{host}", verify=ca)
    assert r.status_code == 403 and r.json()["error"] == REFUSED
    assert reset(server.tls_url, f"https://{host}", verify=ca).status_code == 200
