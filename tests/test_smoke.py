import requests


def test_verify_success(default_server, prime_signer):
    url = f"{default_server.url}/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"
    r = prime_signer.send("GET", url, {"x-amz-marketplace": "US", "x-amz-request-id": "1234"})
    assert r.status_code == 200, r.text
    assert r.content == b'{"message":"SUCCESS"}'
    assert r.headers["x-amz-request-id"] == "1234"


def test_unsigned(default_server):
    url = f"{default_server.url}/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"
    r = requests.get(url, headers={"x-amz-marketplace": "US", "x-amz-request-id": "1"}, timeout=5)
    assert r.status_code == 403
    assert r.json() == {
        "error": {"code": "MissingAuthenticationToken", "message": "Missing Authentication Token"}
    }
