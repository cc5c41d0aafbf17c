"""The Promotions plan: upload a small new-codes file to the client's Devo prefix, then read the
processing report next to it, where the target makes one (the real pipeline is not public: a
target that writes no report within the wait is noted, not counted as a difference)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mocksrv.conform.compare import Rules
from mocksrv.conform.plan import Call, Ctx, Step
from mocksrv.upstream import Message

# the processing outcome must agree: status, kind, environment and the row counts
RULES = Rules(
    values=(
        "$.status",
        "$.kind",
        "$.environment",
        "$.rows.total",
        "$.rows.accepted",
        "$.rows.rejected",
    )
)


def _key(ctx: Ctx, stamp: str) -> str:
    p = ctx.account.params
    return f"{p['prefix']}{p['client']}_new_codes_{stamp}.csv"


def _upload(stamp: str) -> Any:
    def build(ctx: Ctx) -> Call:
        p = ctx.account.params
        body = "".join(f"CONFORM-{ctx.run.upper()}-{i},new\n" for i in (1, 2, 3)).encode()
        return Call("PUT", f"/{p['bucket']}/{_key(ctx, stamp)}", {"content-type": "text/csv"}, body)

    return build


def _report(stamp: str) -> Any:
    def build(ctx: Ctx) -> Call:
        p = ctx.account.params
        return Call("GET", f"/{p['bucket']}/processing-results/{_key(ctx, stamp)}.json")

    return build


def _arrived(answer: Message) -> bool:
    return answer.status == 200


def steps(now: datetime | None = None) -> list[Step]:
    # the file name's UTC minute: a name already processed would be refused as a duplicate
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d_%H%M")
    return [
        Step("PutObject (new codes file)", "PutObject", _upload(stamp), RULES),
        Step("GetObject (its report)", "GetObject", _report(stamp), RULES, until=_arrived),
    ]
