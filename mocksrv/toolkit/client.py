"""Test-side clients: the admin API over HTTP and API clients signed by botocore's SigV4Auth.

Used by the pytest plugin and the examples; it needs `requests` and `botocore` (test extras) and
never uses mocksrv's own signing or parsing code.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TIMEOUT = 10.0
C = TypeVar("C", bound="SignedClient")


class AdminError(AssertionError):
    """An admin call failed; the message is the server's error message."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of the answer


def run_tenant_name(run_id: str, who: str = "") -> str:
    """The name of a tenant made for `mocksrv run` (`who`: a pytest process of the run, which
    the run verifies and deletes at its end)."""
    return f"mocksrv run {run_id}" + (f" pytest {who}" if who else "")


def run_tenant_prefix(run_id: str) -> str:
    return run_tenant_name(run_id, "x")[:-1]


ENV_SAFE = re.compile(r"[^A-Z0-9]+")
IDENTITY_KEYS = ("name", "api", "access_key", "secret_key", "regions")


def sandbox_environment(
    url: str,
    identities: list[dict[str, Any]],
    *,
    admin_url: str,
    tenant: str = "",
    token: str | None = None,
    tools_api: str | None = "promotions",
) -> dict[str, str]:
    """The variables a command gets for a sandbox (docs/toolkit.md): the endpoint, its admin
    API, and each identity's keys (as `GET /__admin/identities` lists them, with secrets) under
    its API's name (the first of each API) and its own; plain AWS tools sign as `tools_api`."""
    env = {"AWS_ENDPOINT_URL": url, "MOCKSRV_URL": url, "MOCKSRV_ADMIN_URL": admin_url}
    if tenant:
        env["MOCKSRV_TENANT"] = tenant
    seen: set[str] = set()
    for ident in identities:
        name = ENV_SAFE.sub("_", str(ident["name"]).upper()).strip("_")
        pairs = {"ACCESS_KEY_ID": ident["access_key"], "SECRET_ACCESS_KEY": ident["secret_key"]}
        if ident.get("regions"):
            pairs["REGION"] = ident["regions"][0]
        for key, value in ident.items():
            if key in IDENTITY_KEYS or isinstance(value, bool):
                continue
            if isinstance(value, str | int | float):
                pairs[ENV_SAFE.sub("_", key.upper())] = str(value)
        prefixes = [f"MOCKSRV_IDENTITY_{name}"]
        if ident["api"] not in seen:  # the first identity of each API also under the API's name
            prefixes.append(f"MOCKSRV_{str(ident['api']).upper()}")
            seen.add(ident["api"])
        for prefix in prefixes:
            env.update({f"{prefix}_{k}": str(v) for k, v in pairs.items()})
    if tools_api in seen:  # plain AWS tools (aws s3 cp, boto3) sign as that API's identity
        env["AWS_ACCESS_KEY_ID"] = env[f"MOCKSRV_{str(tools_api).upper()}_ACCESS_KEY_ID"]
        env["AWS_SECRET_ACCESS_KEY"] = env[f"MOCKSRV_{str(tools_api).upper()}_SECRET_ACCESS_KEY"]
        env["AWS_DEFAULT_REGION"] = "us-east-1"
    if token:  # the toolkit client and the pytest plugin send it
        env["MOCKSRV_ADMIN_TOKEN"] = token
    return env


class SignedClient:
    """Any mocksrv API over HTTP, each request signed with SigV4 for `service`/`region`."""

    def __init__(
        self, base_url: str, access_key: str, secret_key: str, service: str, region: str
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = Credentials(access_key, secret_key)
        self.service, self.region = service, region
        self.session = requests.Session()

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | str = b"",
        json_body: Any = None,
        timeout: float = TIMEOUT,
    ) -> requests.Response:
        data = body.encode() if isinstance(body, str) else body
        sent = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        req = AWSRequest(method=method, url=self.base_url + path, data=data, headers=sent)
        SigV4Auth(self.credentials, self.service, self.region).add_auth(req)
        return self.session.request(
            method, req.url, headers=dict(req.headers.items()), data=data, timeout=timeout
        )

    def close(self) -> None:
        self.session.close()


class PrimeClient(SignedClient):
    """The Prime offer-code APIs: verify, redeem, auth-code."""

    def __init__(self, base_url: str, access_key: str, secret_key: str, region: str = "us-east-1",
                 benefit: str = "PRIME_3P_PARTNER_BENEFIT", marketplace: str = "US") -> None:  # fmt: skip
        super().__init__(base_url, access_key, secret_key, "execute-api", region)
        self.benefit, self.marketplace = benefit, marketplace

    def call(self, operation: str, code: str, **kw: Any) -> requests.Response:
        method = "POST" if operation == "redeem" else "GET"
        headers = {"x-amz-marketplace": self.marketplace, "x-amz-request-id": "mocksrv-test"}
        headers.update(kw.pop("headers", None) or {})
        path = (
            f"/v1/customer/benefit/{quote(self.benefit, safe='')}/offer-code/{quote(code, safe='')}"
        )
        return self.request(method, f"{path}/{operation}", headers=headers, **kw)

    def verify(self, code: str, **kw: Any) -> requests.Response:
        return self.call("verify", code, **kw)

    def redeem(self, code: str, **kw: Any) -> requests.Response:
        return self.call("redeem", code, **kw)

    def auth_code(self, code: str, **kw: Any) -> requests.Response:
        return self.call("auth-code", code, **kw)


class AgcodClient(SignedClient):
    """AGCOD: `call("CreateGiftCard", {...})` posts JSON and asks for a JSON answer."""

    def __init__(self, base_url: str, access_key: str, secret_key: str, region: str = "us-east-1"):
        super().__init__(base_url, access_key, secret_key, "AGCODService", region)

    def call(self, operation: str, payload: dict[str, Any], **kw: Any) -> requests.Response:
        headers = {
            "Accept": "application/json",
            "x-amz-target": f"com.amazonaws.agcod.AGCODService.{operation}",
        }
        headers.update(kw.pop("headers", None) or {})
        return self.request("POST", f"/{operation}", headers=headers, json_body=payload, **kw)


class Mocksrv:
    """A handle on a running mocksrv: admin operations and ready-signed clients.

    `token` (default: $MOCKSRV_ADMIN_TOKEN) is sent as `Authorization: Bearer` on admin calls.
    With `tenant`, every admin call acts on that tenant alone (`/__admin/tenants/{id}/...`) and
    the clients sign with its keys."""

    def __init__(self, url: str, token: str | None = None, tenant: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.tenant = tenant or ""
        self.server_admin_url = f"{self.url}/__admin"
        self.admin_url = self.server_admin_url + (f"/tenants/{quote(tenant)}" if tenant else "")
        self._session = requests.Session()
        self.token = token or os.environ.get("MOCKSRV_ADMIN_TOKEN") or None
        if self.token:
            self._session.headers["Authorization"] = f"Bearer {self.token}"
        self.clock = Clock(self)
        self._clients: list[SignedClient] = []
        self.own_expectations_only = False

    def _track(self, client: C) -> C:
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        """Close the API clients this handle made (the pytest plugin does so between tests)."""
        for client in self._clients:
            client.close()
        self._clients.clear()

    def admin(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """An admin call on this handle's sandbox (its tenant's, when it has one)."""
        return self._call(self.admin_url, method, path, body, params)

    def _call(self, base: str, method: str, path: str, body: Any, params: dict[str, Any]) -> Any:
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = {}  # writes always go as JSON (the admin API refuses other content types)
        resp = self._session.request(
            method, base + path, json=body, params=params or None, timeout=TIMEOUT
        )
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            problems = "".join(f"\n  {p}" for p in error.get("problems", []))
            message = error.get("message") or f"{resp.status_code} {resp.reason}"
            raise AdminError(f"{method} {path}: {message}{problems}", resp.status_code)
        return data

    # --- tenants (of the server, whichever tenant this handle is on) -------------------------
    def create_tenant(self, **fields: Any) -> dict[str, Any]:
        """POST /__admin/tenants: `name`, `scenario`, `like`, `yaml`, `ttl_seconds`; the answer
        holds the tenant's `id` and its `identities` with their keys."""
        return dict(self._call(self.server_admin_url, "POST", "/tenants", fields, {}))

    def tenants(self) -> list[dict[str, Any]]:
        return list(self._call(self.server_admin_url, "GET", "/tenants", None, {})["tenants"])

    def delete_tenant(self, tenant: str) -> Any:
        return self._call(self.server_admin_url, "DELETE", f"/tenants/{quote(tenant)}", None, {})

    def for_tenant(self, tenant: str | None) -> Mocksrv:
        """A handle on the same server for `tenant` ("" or None: the default tenant)."""
        return Mocksrv(self.url, self.token, tenant)

    def environment(self, tools_api: str | None = "promotions") -> dict[str, str]:
        """The variables `mocksrv run` gives its command, for this handle's sandbox."""
        return sandbox_environment(
            self.url, self.identities(), admin_url=self.admin_url, tenant=self.tenant,
            token=self.token, tools_api=tools_api,
        )  # fmt: skip

    # --- state ------------------------------------------------------------------------------
    def reset(self, *, keep_journal: bool = False) -> None:
        """Rebuild all state; `keep_journal` keeps what the scenario's expectations counted and
        starts a new journal scope (what the pytest plugin does under `mocksrv run`)."""
        self.admin("POST", "/reset", {"keepJournal": True} if keep_journal else None)

    def load(
        self,
        paths: list[str] | None = None,
        *,
        keep_state: bool = False,
        keep_journal: bool = False,
        names: list[str] | None = None,
    ) -> Any:
        """Switch to these scenario files, or bundled scenarios by name (neither: the default)."""
        body: dict[str, Any] = {"keepState": keep_state, "keepJournal": keep_journal}
        if names:
            body["names"] = names
        else:
            body.update({"paths": paths} if paths else {"default": True})
        return self.admin("POST", "/scenarios", body)

    def active(self) -> list[str]:
        """The sources of the scenarios the server runs now."""
        return [sc["source"] for sc in self.admin("GET", "/scenarios")["active"]]

    def state(self, api: str | None = None) -> Any:
        return self.admin("GET", f"/state/{api}" if api else "/state")

    def identities(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/identities")["identities"])

    def identity(self, api_or_name: str) -> dict[str, Any]:
        """The identity named so, or the first identity of that API."""
        found = self.identities()
        for ident in found:
            if ident["name"] == api_or_name:
                return ident
        for ident in found:
            if ident["api"] == api_or_name:
                return ident
        raise AdminError(f"no identity or API named {api_or_name!r} in the scenario")

    # --- journal, expectations, faults -----------------------------------------------------
    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/journal", **filters)["entries"])

    def expect(self, **spec: Any) -> Any:
        return self.admin("POST", "/expectations", spec)

    def verify(self) -> dict[str, Any]:
        return dict(self.admin("GET", "/expectations/verify"))

    def assert_expectations_met(self) -> None:
        """Every expectation met; attached to `mocksrv run` (`own_expectations_only`), only those
        added at run time: the run verifies its scenario's expectations over all tests at the end."""
        items = self.verify()["expectations"]
        if self.own_expectations_only:
            items = [r for r in items if r.get("source") != "scenario"]
        lines = [f"{r['name']}: {r['message']}" for r in items if not r["met"]]
        if lines:
            raise AssertionError("unmet mocksrv expectations:\n  " + "\n  ".join(lines))

    def fault(self, **spec: Any) -> Any:
        return self.admin("POST", "/faults", spec)

    def clear_faults(self) -> Any:
        return self.admin("DELETE", "/faults")

    # --- clients ----------------------------------------------------------------------------
    def prime(self, identity: str = "prime", **kw: Any) -> PrimeClient:
        ident = self.identity(identity)
        region = (ident.get("regions") or ["us-east-1"])[0]
        client = PrimeClient(self.url, ident["access_key"], ident["secret_key"], region, **kw)
        return self._track(client)

    def agcod(self, identity: str = "agcod", region: str = "us-east-1") -> AgcodClient:
        ident = self.identity(identity)
        client = AgcodClient(self.url, ident["access_key"], ident["secret_key"], region)
        return self._track(client)

    def s3(self, identity: str = "promotions", region: str = "us-east-1") -> Any:
        import boto3
        from botocore.config import Config

        ident = self.identity(identity)
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ident["access_key"],
            aws_secret_access_key=ident["secret_key"],
            region_name=region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": 1},
                connect_timeout=5,
                read_timeout=TIMEOUT,
            ),  # fmt: skip
        )

    def close(self) -> None:
        self.close_clients()
        self._session.close()


class Clock:
    """The scenario clock through the admin API."""

    def __init__(self, srv: Mocksrv) -> None:
        self._srv = srv

    def now(self) -> str:
        return str(self._srv.admin("GET", "/clock")["now"])

    def set(self, instant: str, *, frozen: bool | None = None) -> Any:
        body: dict[str, Any] = {"now": instant}
        if frozen is not None:
            body["frozen"] = frozen
        return self._srv.admin("PUT", "/clock", body)

    def advance(self, **units: float) -> Any:
        return self._srv.admin("POST", "/clock/advance", units)

    def freeze(self) -> Any:
        return self._srv.admin("POST", "/clock/freeze")

    def unfreeze(self) -> Any:
        return self._srv.admin("POST", "/clock/unfreeze")
