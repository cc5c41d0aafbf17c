"""Example partner client for scenarios/prime-outcomes.yaml: exercises every Prime outcome.

Reads the endpoint and credentials that `mocksrv run` puts in the environment and signs with
botocore's SigV4Auth, as a real partner integration would. Retryable errors (429, 500, 503) are
retried up to 3 times with backoff, as the Prime docs advise.

    mocksrv run --scenario scenarios/prime-outcomes.yaml -- python examples/prime_client.py
    python examples/prime_client.py --skip-redeem   # leaves an expectation unmet on purpose
"""

from __future__ import annotations

import os
import sys
import time

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

URL = os.environ["MOCKSRV_URL"]
CREDS = Credentials(
    os.environ["MOCKSRV_PRIME_ACCESS_KEY_ID"], os.environ["MOCKSRV_PRIME_SECRET_ACCESS_KEY"]
)
BENEFIT = "PRIME_3P_PARTNER_BENEFIT"
RETRYABLE = {429, 500, 503}


def call(operation: str, code: str) -> requests.Response:
    method = "POST" if operation == "redeem" else "GET"
    url = f"{URL}/v1/customer/benefit/{BENEFIT}/offer-code/{code}/{operation}"
    for attempt in range(4):
        req = AWSRequest(method=method, url=url, headers={"x-amz-marketplace": "US"})
        SigV4Auth(CREDS, "execute-api", "us-east-1").add_auth(req)
        headers = {**dict(req.headers.items()), "x-amz-request-id": f"example-{attempt}"}
        resp = requests.request(method, url, headers=headers, timeout=6)
        if resp.status_code not in RETRYABLE or attempt == 3:
            return resp
        time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def main(argv: list[str]) -> int:
    for code in ("100000001", "100000002", "100000003", "100000004", "100000005"):
        print(code, call("verify", code).json())
    if "--skip-redeem" not in argv:
        print("redeem", call("redeem", "100000006").json())
        print("redeem again", call("redeem", "100000006").json())
    print("auth-code", call("auth-code", "100000001").json())
    print("throttled", call("verify", "100000429").status_code)
    print("retried", call("verify", "100000503").json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
