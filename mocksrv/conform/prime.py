"""The Prime plan: verify each given offer code (its outcome), then a wrong signature, no
signature and a bad time zone. Verify never consumes a use, so the plan changes no code."""

from __future__ import annotations

from typing import Any

from mocksrv.conform.compare import Rules
from mocksrv.conform.plan import Call, Ctx, Step

# the outcome and the error code must agree; error messages are free text
RULES = Rules(values=("$.message", "error.code"), header_values=("x-amzn-ErrorType",))
REQUEST_ID = "mocksrv-conform"


def _verify(code: str | None = None, sign: str = "yes", **headers: str) -> Any:
    def build(ctx: Ctx) -> Call:
        p = ctx.account.params
        path = f"/v1/customer/benefit/{p['benefit']}/offer-code/{code or p['codes'][0]}/verify"
        signed = {"x-amz-marketplace": p["marketplace"], **headers}
        return Call("GET", path, signed, sign=sign, unsigned={"x-amz-request-id": REQUEST_ID})

    return build


def steps(codes: list[str]) -> list[Step]:
    out = [Step(f"verify {code}", "verify", _verify(code), RULES) for code in codes]
    out += [
        Step("verify (wrong signature)", "verify", _verify(sign="wrong-secret"), RULES),
        Step("verify (no signature)", "verify", _verify(sign="no"), RULES),
        Step(
            "verify (bad time zone)",
            "verify",
            _verify(**{"x-amz-time-zone": "Mars/Olympus_Mons"}),
            RULES,
        ),  # fmt: skip
    ]
    return out
