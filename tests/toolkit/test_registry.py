"""The registry: an API is one package plus one registry line, and every list of APIs (schema,
identities, skew, faults, expectations, journal, admin state, keep-state) follows from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mocksrv.api import Api, StoreBase
from mocksrv.app import create_app
from mocksrv.errors import ScenarioError
from mocksrv.http import Response
from mocksrv.registry import APIS, EXTENSIONS, REGISTRY, Registry
from mocksrv.scenario.loader import merge_scenarios
from mocksrv.server import ServerThread
from mocksrv.settings import Settings
from tests.support.paths import ROOT

KEY, SECRET = "AKIAECHOECHOECHO0001", "EchoEchoEchoSecretKey0000000000000000001"
ECHO_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"greeting": {"type": "string"}},
}


class EchoStore(StoreBase):
    """The echo API's data: how many calls it answered (the typed store seam: `StoreBase`
    gives the parts it has nothing to do for)."""

    def __init__(self) -> None:
        self.calls = 0

    def snapshot(self, now: Any) -> dict[str, Any]:
        return {"calls": self.calls}


class EchoService:
    """GET /echo signed for the `echo` service answers the scenario's greeting."""

    api = "echo"
    scope = "echo"

    def __init__(self, greeting: str, store: EchoStore, runtime: Any) -> None:
        from mocksrv.services.common import verify_policy

        self.greeting, self.store = greeting, store
        self.policy = verify_policy(runtime, "echo", ECHO)

    def claims(self, call: Any) -> bool:
        return call.path == "/echo"

    def describe(self, url: str) -> list[str]:
        return [f"Echo               {url}/echo"]

    def rate_limits(self) -> list[str]:
        return []

    def __call__(self, call: Any) -> Response:
        call.api, call.operation = self.api, "Echo"
        call.verify_signature(self.policy)
        injected = call.runtime.faults.intercept(call, self.render_named_error)
        if injected is not None:
            return injected
        self.store.calls += 1
        call.outcome = "OK"
        return Response(self.greeting, status=200, content_type="text/plain")

    def render_named_error(self, name: str) -> Response:
        return Response(name, status=500, content_type="text/plain")


def _parse(model: Any, problems: Any) -> str:
    greeting = (model.raw.get("echo") or {}).get("greeting", "hello")
    if greeting == "":
        problems.add(("echo", "greeting"), "say something")
    return str(greeting)


ECHO = Api(
    name="echo",
    aliases=("hello",),
    section="echo",
    schema=ECHO_SCHEMA,
    parse=_parse,
    new_store=lambda config, runtime: EchoStore(),
    install=lambda runtime, greeting, store: runtime.add_service(
        EchoService(greeting, store, runtime)
    ),
    skew_seconds=60,
    identities=True,
    errors=lambda: {"EchoFailed"},
    throttle_error="EchoThrottled",
    internal_error="EchoBroken",
)
WITH_ECHO = Registry((*APIS, ECHO), EXTENSIONS)  # "one registry line"

SCENARIO = f"""version: 1
name: echo
identities:
  - {{name: echoer, api: hello, access_key: {KEY}, secret_key: {SECRET}}}
settings:
  skew_seconds: {{hello: 30}}
echo: {{greeting: hi}}
faults:
  - {{match: {{api: hello}}, error: EchoFailed, times: 1}}
expectations:
  - {{name: echoed, match: {{api: echo, operation: Echo, outcome: OK}}, count: {{exactly: 1}}}}
"""


def _echo(url: str) -> requests.Response:
    req = AWSRequest(method="GET", url=url + "/echo")
    SigV4Auth(Credentials(KEY, SECRET), "echo", "us-east-1").add_auth(req)
    return requests.get(url + "/echo", headers=dict(req.headers), timeout=10)


@pytest.fixture
def echo_server(tmp_path: Path) -> Any:
    path = tmp_path / "echo.yaml"
    path.write_text(SCENARIO)
    cfg = Settings(host="127.0.0.1", port=0, scenario_paths=[str(path)])
    srv = ServerThread(create_app(cfg, WITH_ECHO.load_files([str(path)]), registry=WITH_ECHO), cfg)
    srv.start()
    yield srv, path
    srv.stop()


def test_a_registered_api_is_served_faulted_journaled_and_viewed(echo_server):
    srv, _ = echo_server
    first = _echo(srv.url)
    assert (first.status_code, first.text) == (500, "EchoFailed")  # the fault, by its alias
    assert (_echo(srv.url).status_code, _echo(srv.url).text) == (200, "hi")
    journal = requests.get(f"{srv.url}/__admin/journal?api=hello", timeout=10).json()
    assert [(e["api"], e["identity"], e["outcome"]) for e in journal["entries"]] == [
        ("echo", "echoer", "OK"), ("echo", "echoer", "OK"), ("echo", "echoer", "EchoFailed")
    ]  # fmt: skip
    assert requests.get(f"{srv.url}/__admin/state/echo", timeout=10).json() == {"calls": 2}
    verify = requests.post(f"{srv.url}/__admin/expectations/verify", json={}, timeout=10).json()
    assert verify["expectations"][0]["actual"] == 2
    assert srv.app.runtime.model.skew_seconds["echo"] == 30  # the alias set the API's window


def test_keep_state_keeps_a_registered_apis_store_until_its_section_changes(echo_server):
    srv, path = echo_server
    assert [_echo(srv.url).text for _ in range(2)] == ["EchoFailed", "hi"]
    without_fault = SCENARIO.split("faults:")[0]
    path.write_text(without_fault.replace("name: echo\n", "name: echo again\n"))
    body = {"reload": True, "keepState": True}
    kept = requests.post(f"{srv.url}/__admin/scenarios", json=body, timeout=10).json()
    assert "echo" in kept["keptState"]
    assert requests.get(f"{srv.url}/__admin/state/echo", timeout=10).json() == {"calls": 1}
    assert _echo(srv.url).text == "hi"  # a fresh service over the kept store
    path.write_text(without_fault.replace("greeting: hi", "greeting: ho"))
    reset = requests.post(f"{srv.url}/__admin/scenarios", json=body, timeout=10).json()
    assert "echo" in reset["resetState"]
    assert requests.get(f"{srv.url}/__admin/state/echo", timeout=10).json() == {"calls": 0}
    assert _echo(srv.url).text == "ho"


def test_a_registered_apis_section_is_in_the_schema_and_checked(tmp_path):
    schema = WITH_ECHO.scenario_schema()
    assert schema["properties"]["echo"] == ECHO_SCHEMA
    assert "echo" not in REGISTRY.scenario_schema()["properties"]
    identity_apis = schema["properties"]["identities"]["items"]["properties"]["api"]["enum"]
    assert {"echo", "hello"} <= set(identity_apis)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SCENARIO.replace("greeting: hi", "greetin: hi") + "  - {match: {api: echo}, error: Nope}\n"
    )
    problems = WITH_ECHO.validate_paths([str(bad)])
    assert f"{bad}:7: echo.greetin: unknown key 'greetin'; did you mean 'greeting'?" in problems
    bad.write_text(SCENARIO.replace("greeting: hi", "greeting: ''"))
    assert WITH_ECHO.validate_paths([str(bad)]) == [f"{bad}:7: echo.greeting: say something"]
    with pytest.raises(ScenarioError, match="'EchoFailed' is not a prime wire error"):
        REGISTRY.parse_text(SCENARIO.replace("api: hello}, error", "api: prime}, error"), "<t>")


def test_older_spellings_in_scenario_files_mean_the_api(mocksrv, mocksrv_s3, tmp_path):
    text = (ROOT / "scenarios/default.yaml").read_text()
    path = tmp_path / "old-names.yaml"
    assert "promotions: 900" in text
    path.write_text(text.replace("promotions: 900", "s3: 60")
                    + "\nexpectations:\n  - {name: put, match: {api: s3, operation: PutObject}}\n"
                    "  - {name: page, match: {api: landing}, count: {exactly: 0}}\n")  # fmt: skip
    mocksrv.load([str(path)])
    merged = merge_scenarios(REGISTRY.load_files([str(path)]))
    assert REGISTRY.model(merged).skew_seconds["promotions"] == 60
    prefix = "new-promo-codes/clientname=clientname/"
    mocksrv_s3.put_object(Bucket="partner-promotions-devo", Key=prefix + "x.csv", Body=b"x")
    assert mocksrv.journal(api="s3")[-1]["api"] == "promotions"
    report = {e["name"]: e["actual"] for e in mocksrv.verify()["expectations"]}
    assert report == {"put": 1, "page": 0}  # `landing` is the promotions API's Landing only


def test_a_posted_scenario_extends_bundled_scenarios(mocksrv, mocksrv_prime):
    text = "version: 1\nname: posted\nextends: default\nsettings: {sigv4_debug: true}\n"
    result = mocksrv.admin("POST", "/scenarios", {"yaml": text})
    assert [Path(a).name for a in result["active"]] == ["default.yaml", "posted.yaml"]
    assert mocksrv_prime.verify("123456789").json() == {"message": "SUCCESS"}
    bad = "version: 1\nname: posted\nextends: ../../etc/passwd\n"
    r = requests.post(f"{mocksrv.url}/__admin/scenarios", json={"yaml": bad}, timeout=10)
    assert r.status_code == 400
    assert "may extend only bundled scenarios" in r.json()["error"]["problems"][0]


def test_an_instance_leaves_out_only_optional_steps():
    from mocksrv import sigv4
    from mocksrv.services.base import ApiService

    class Throttled(ApiService):
        api, scope = "t", None

        def throttle(self, call: Any, route: Any, ident: Any) -> None:
            """Filled in: the class runs it unless an instance leaves it out."""

    service = Throttled(sigv4.VerifyPolicy(service="t"))
    assert "throttle" in service._fills and "authorize" not in service._fills
    service.leave_out("throttle")
    assert "throttle" not in service._fills and "throttle" in Throttled._fills
    with pytest.raises(ValueError, match="operate"):
        service.leave_out("operate")
