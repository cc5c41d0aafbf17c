"""STS on the shared port: AssumeRole, GetCallerIdentity, STS's XML errors, sessions on S3."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from botocore.exceptions import ClientError

from mocksrv.clock import parse_instant
from tests.support.signing import Signer
from tests.support.sts import (
    KEYS,
    OTHER_ROLE,
    ROLE,
    STS_ROLES,
    THIRD_ROLE,
    assume,
    client,
    session_client,
)

FORM = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
ERROR_XML = re.compile(
    r'<ErrorResponse xmlns="https://sts\.amazonaws\.com/doc/2011-06-15/">\n'
    r"  <Error>\n    <Type>Sender</Type>\n    <Code>(?P<code>[A-Za-z]+)</Code>\n"
    r"    <Message>(?P<message>[^<]*)</Message>\n  </Error>\n"
    r"  <RequestId>[0-9a-f-]{36}</RequestId>\n</ErrorResponse>\n"
)


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory([STS_ROLES])


def sts_error(err: ClientError) -> tuple[str, str, int]:
    e = err.response["Error"]
    return e["Code"], e["Message"], err.response["ResponseMetadata"]["HTTPStatusCode"]


def raw_sts(server, body: str, who: str = "clientname", **sign) -> requests.Response:
    key, secret = KEYS[who]
    signer = Signer(key, secret, "sts", "us-east-1")
    return signer.send("POST", server.url + "/", FORM, body.encode(), **sign)


# --- GetCallerIdentity ---------------------------------------------------------------------------


def test_get_caller_identity_of_a_user(server):
    me = client("sts", server.url).get_caller_identity()
    assert me["Arn"] == "arn:aws:iam::111122223333:user/clientname"
    assert me["Account"] == "111122223333"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", me["UserId"])
    other = client("sts", server.url, "stranger").get_caller_identity()
    assert other["Arn"] == "arn:aws:iam::123456789012:user/stranger"  # no role: default account


def test_get_caller_identity_of_an_assumed_role(server):
    creds = assume(server.url)["Credentials"]
    me = session_client("sts", server.url, creds).get_caller_identity()
    assert (
        me["Arn"]
        == "arn:aws:sts::111122223333:assumed-role/clientname-PromoCodesUpload-Role/upload"
    )
    assert re.fullmatch(r"AROA[A-Z2-7]{17}:upload", me["UserId"])
    assert me["Account"] == "111122223333"


def test_success_body_is_sts_xml(server):
    r = raw_sts(server, "Action=GetCallerIdentity&Version=2011-06-15")
    assert r.status_code == 200 and r.headers["content-type"] == "text/xml"
    assert r.text.startswith(
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
        "  <GetCallerIdentityResult>\n    <Arn>arn:aws:iam::111122223333:user/clientname</Arn>\n"
    )
    assert f"<RequestId>{r.headers['x-amzn-RequestId']}</RequestId>" in r.text


# --- AssumeRole ----------------------------------------------------------------------------------


def test_assume_role_issues_temporary_credentials_on_the_scenario_clock(server):
    before = server.app.runtime.clock.now()
    answer = assume(server.url, DurationSeconds=900)
    creds = answer["Credentials"]
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", creds["AccessKeyId"])
    assert len(creds["SecretAccessKey"]) == 40 and len(creds["SessionToken"]) > 100
    expires = creds["Expiration"]
    assert before + timedelta(seconds=899) <= expires <= before + timedelta(seconds=905)
    assert answer["AssumedRoleUser"]["Arn"].endswith(
        ":assumed-role/clientname-PromoCodesUpload-Role/upload"
    )


def test_role_trusted_by_user_arn_needs_the_external_id(server):
    denied = (
        f"User: arn:aws:iam::444455556666:user/otherclient is not authorized to perform: "
        f"sts:AssumeRole on resource: {OTHER_ROLE}"
    )
    for extra in ({}, {"ExternalId": "wrong-id"}):
        with pytest.raises(ClientError) as err:
            assume(server.url, "otherclient", OTHER_ROLE, **extra)
        assert sts_error(err.value) == ("AccessDenied", denied, 403)
    ok = assume(
        server.url, "otherclient", OTHER_ROLE, ExternalId="partner-4711", DurationSeconds=7200
    )
    assert ok["AssumedRoleUser"]["Arn"].startswith("arn:aws:sts::444455556666:assumed-role/")


def test_role_trusted_by_account_root(server):
    ok = assume(server.url, "thirdclient", THIRD_ROLE)
    assert ok["AssumedRoleUser"]["Arn"] == (
        "arn:aws:sts::777788889999:assumed-role/thirdclient-PromoCodesUpload-Role/upload"
    )


@pytest.mark.parametrize(
    ("who", "role"),
    [
        ("stranger", ROLE),  # trusted by nobody
        ("otherclient", ROLE),  # another client's role
        ("clientname", "arn:aws:iam::111122223333:role/no-such-role"),
    ],
)
def test_assume_role_not_allowed_is_access_denied(server, who, role):
    with pytest.raises(ClientError) as err:
        assume(server.url, who, role)
    code, message, status = sts_error(err.value)
    assert (code, status) == ("AccessDenied", 403)
    assert message.endswith(f"is not authorized to perform: sts:AssumeRole on resource: {role}")


def test_role_chaining_is_access_denied(server):
    creds = assume(server.url)["Credentials"]
    with pytest.raises(ClientError) as err:
        session_client("sts", server.url, creds).assume_role(RoleArn=ROLE, RoleSessionName="again")
    assert sts_error(err.value)[0] == "AccessDenied"


def test_duration_over_the_roles_maximum(server):
    with pytest.raises(ClientError) as err:
        assume(server.url, DurationSeconds=3601)  # the role's default maximum is 3600
    assert sts_error(err.value) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        400,
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("RoleSessionName=s1", "1 validation error detected: Value null at 'roleArn' failed to "
         "satisfy constraint: Member must not be null"),
        (f"RoleArn={ROLE}&RoleSessionName=s1&DurationSeconds=899", "1 validation error detected: "
         "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value "
         "greater than or equal to 900"),
        (f"RoleArn={ROLE}&RoleSessionName=s1&DurationSeconds=43201", "1 validation error "
         "detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must "
         "have value less than or equal to 43200"),
        (f"RoleArn={ROLE}&RoleSessionName=s1&DurationSeconds=ten", "1 validation error detected: "
         "Value 'ten' at 'durationSeconds' failed to satisfy constraint: Member must be an integer"),
        ("RoleArn=not-an-arn&RoleSessionName=a%20b", "2 validation errors detected: Value "
         "'not-an-arn' at 'roleArn' failed to satisfy constraint: Member must be a valid IAM role "
         "ARN; Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy "
         r"regular expression pattern: [\w+=,.@-]{2,64}"),
        (f"RoleArn={ROLE}&RoleSessionName=s1&Policy=%7B%7D", "1 validation error detected: mocksrv "
         "does not emulate the AssumeRole parameter Policy"),
    ],
)  # fmt: skip
def test_bad_parameters_are_validation_errors(server, body, message):
    r = raw_sts(server, f"Action=AssumeRole&Version=2011-06-15&{body}")
    assert r.status_code == 400
    m = ERROR_XML.fullmatch(r.text)
    assert m, r.text
    assert (m["code"], m["message"]) == ("ValidationError", message)


# --- authentication failures, in STS's shape --------------------------------------------------


def test_unknown_key_is_invalid_client_token_id(server):
    sts = client("sts", server.url)
    sts._request_signer._credentials.access_key = "AKIAUNKNOWNUNKNOWN00"  # noqa: SLF001
    with pytest.raises(ClientError) as err:
        sts.get_caller_identity()
    assert sts_error(err.value) == (
        "InvalidClientTokenId", "The security token included in the request is invalid.", 403
    )  # fmt: skip


def test_wrong_secret_is_signature_does_not_match(server):
    r = raw_sts(server, "Action=GetCallerIdentity&Version=2011-06-15", secret="wrong" * 8)
    m = ERROR_XML.fullmatch(r.text)
    assert r.status_code == 403 and m and m["code"] == "SignatureDoesNotMatch"


def test_unsigned_form_post_is_missing_authentication_token(server):
    r = requests.post(server.url + "/", data="Action=GetCallerIdentity&Version=2011-06-15",
                      headers=FORM, timeout=5)  # fmt: skip
    m = ERROR_XML.fullmatch(r.text)
    assert r.status_code == 403 and m, r.text
    assert (m["code"], m["message"]) == (
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
    )


def test_session_key_with_a_wrong_or_missing_token(server):
    creds = assume(server.url)["Credentials"]
    for token in ("FwoGZXIvYXdzEnot-the-token", None):
        sts = session_client("sts", server.url, {**creds, "SessionToken": token})
        with pytest.raises(ClientError) as err:
            sts.get_caller_identity()
        assert sts_error(err.value)[0] == "InvalidClientTokenId"


def test_expired_session_on_sts_is_expired_token_exception(server_factory):
    srv = server_factory([STS_ROLES])
    creds = assume(srv.url, DurationSeconds=900)["Credentials"]
    srv.app.runtime.clock.advance(901)
    with pytest.raises(ClientError) as err:
        session_client("sts", srv.url, creds).get_caller_identity()
    assert sts_error(err.value) == (
        "ExpiredTokenException", "The security token included in the request is expired", 400
    )  # fmt: skip


# --- operations that are not emulated ----------------------------------------------------------


def test_other_sts_operations_are_invalid_action_naming_the_operation(server):
    with pytest.raises(ClientError) as err:
        client("sts", server.url).get_session_token()
    assert sts_error(err.value) == (
        "InvalidAction",
        "mocksrv does not emulate the STS operation GetSessionToken; emulated: AssumeRole, "
        "GetCallerIdentity",
        400,
    )
    r = raw_sts(server, "Action=MakeCoffee&Version=2011-06-15")
    m = ERROR_XML.fullmatch(r.text)
    assert m and (m["code"], m["message"]) == (
        "InvalidAction", "Could not find operation MakeCoffee for version 2011-06-15"
    )  # fmt: skip


def test_iam_is_not_emulated_in_iams_own_shape(server):
    with pytest.raises(ClientError) as err:
        client("iam", server.url).list_roles()
    code, message, status = sts_error(err.value)
    assert (code, status) == ("InvalidAction", 400)
    assert message.startswith("mocksrv does not emulate IAM; the operation ListRoles")
    signer = Signer(*KEYS["clientname"], "iam", "us-east-1")
    r = signer.send("POST", server.url + "/", FORM, b"Action=GetRole&RoleName=x&Version=2010-05-08")
    assert r.text.startswith('<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')


def test_state_view_lists_roles_and_sessions_without_secrets(server_factory):
    srv = server_factory([STS_ROLES])
    creds = assume(srv.url)["Credentials"]
    state = requests.get(f"{srv.url}/__admin/state/sts", timeout=5).json()
    assert ROLE in [r["arn"] for r in state["roles"]]
    (session,) = state["sessions"]
    assert session["accessKeyId"] == creds["AccessKeyId"] and session["expired"] is False
    assert parse_instant(session["expiration"]) == creds["Expiration"]
    assert creds["SecretAccessKey"] not in str(state) and creds["SessionToken"] not in str(state)


def test_a_fault_on_sts_answers_in_stss_shape(server_factory):
    srv = server_factory([STS_ROLES])
    fault = {"match": {"api": "sts", "operation": "AssumeRole"}, "error": "Throttling", "times": 1}
    assert requests.post(f"{srv.url}/__admin/faults", json=fault, timeout=5).status_code in (
        200,
        201,
    )
    with pytest.raises(ClientError) as err:
        assume(srv.url)
    assert sts_error(err.value) == ("Throttling", "Rate exceeded", 400)
    assert assume(srv.url)["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_sigv4_debug_mismatch_carries_the_canonical_request(server_factory):
    srv = server_factory([STS_ROLES], sigv4_debug=True)
    r = raw_sts(srv, "Action=GetCallerIdentity&Version=2011-06-15", secret="wrong" * 8)
    m = ERROR_XML.fullmatch(r.text)
    assert r.status_code == 403 and m and m["code"] == "SignatureDoesNotMatch"
    assert "The Canonical String for this request should have been\n'POST\n/\n" in m["message"]
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in m["message"]


def test_assume_role_body_is_sts_xml(server):
    r = raw_sts(server, f"Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE}"
                "&RoleSessionName=raw-1&SourceIdentity=alice")  # fmt: skip
    assert r.status_code == 200, r.text
    assert re.fullmatch(
        r'<AssumeRoleResponse xmlns="https://sts\.amazonaws\.com/doc/2011-06-15/">\n'
        r"  <AssumeRoleResult>\n    <SourceIdentity>alice</SourceIdentity>\n"
        r"    <AssumedRoleUser>\n      <Arn>arn:aws:sts::111122223333:assumed-role/"
        r"clientname-PromoCodesUpload-Role/raw-1</Arn>\n"
        r"      <AssumedRoleId>AROA[A-Z2-7]{17}:raw-1</AssumedRoleId>\n    </AssumedRoleUser>\n"
        r"    <Credentials>\n      <AccessKeyId>ASIA[A-Z2-7]{16}</AccessKeyId>\n"
        r"      <SecretAccessKey>[A-Za-z0-9+/]{40}</SecretAccessKey>\n"
        r"      <SessionToken>[A-Za-z0-9+/=]+</SessionToken>\n"
        r"      <Expiration>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ</Expiration>\n    </Credentials>\n"
        r"  </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>[0-9a-f-]{36}</RequestId>\n"
        r"  </ResponseMetadata>\n</AssumeRoleResponse>\n",
        r.text,
    ), r.text


def test_a_bug_answers_internal_failure_in_stss_shape(server_factory, monkeypatch):
    srv = server_factory([STS_ROLES])
    service = next(s for s in srv.app.runtime.services if s.api == "sts")

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "get_caller_identity", broken)
    r = raw_sts(srv, "Action=GetCallerIdentity&Version=2011-06-15")
    assert r.status_code == 500
    assert "<Type>Receiver</Type>\n    <Code>InternalFailure</Code>" in r.text
    assert "boom" not in r.text and "Traceback" not in r.text
