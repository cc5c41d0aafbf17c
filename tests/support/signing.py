"""Test-side request signing with botocore's SigV4Auth (a real signer, independent of mocksrv)."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PRIME_KEY = "AKIAMOCKSRVPRIME0001"
PRIME_SECRET = "MockSrvPrimeDemoSecretKey000000000000001"


class Signer:
    def __init__(self, key: str, secret: str, service: str, region: str) -> None:
        self.key, self.secret, self.service, self.region = key, secret, service, region

    def headers(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        at: dt.datetime | None = None,
        secret: str | None = None,
        region: str | None = None,
        service: str | None = None,
    ) -> dict[str, str]:
        """Signed headers for the request; `at` signs as if the client clock read that time."""
        creds = Credentials(self.key, secret or self.secret)
        req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        auth = SigV4Auth(creds, service or self.service, region or self.region)
        if at is None:
            auth.add_auth(req)
        else:
            # botocore reads the clock through get_current_datetime(); a skewed client clock
            with mock.patch("botocore.auth.get_current_datetime", return_value=at):
                auth.add_auth(req)
        return dict(req.headers.items())

    def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        unsigned: dict[str, str] | None = None,
        session: requests.Session | None = None,
        **kw: object,
    ) -> requests.Response:
        """Sign `headers` and send (through `session`, e.g. to an InProcess app, if given);
        `unsigned` headers are added after signing."""
        signed = self.headers(method, url, headers, body, **kw)  # type: ignore[arg-type]
        signed.update(unsigned or {})
        return (session or requests).request(method, url, headers=signed, data=body, timeout=10)
