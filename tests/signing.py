"""Test-side request signing with botocore's SigV4Auth (a real signer, independent of mocksrv)."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


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
            with mock.patch("botocore.auth.datetime") as fake:
                fake.datetime.now.return_value = at.replace(tzinfo=None)
                fake.datetime.utcnow.return_value = at.replace(tzinfo=None)
                fake.datetime.strptime = dt.datetime.strptime
                fake.timezone = dt.timezone
                auth.add_auth(req)
        return dict(req.headers.items())

    def send(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: bytes = b"", **kw: object
    ) -> requests.Response:
        signed = self.headers(method, url, headers, body, **kw)  # type: ignore[arg-type]
        return requests.request(method, url, headers=signed, data=body, timeout=10)
