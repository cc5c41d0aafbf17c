"""Running a conformance plan: each step's request, signed with botocore, is sent to the target
and to mocksrv (paced under the target's rate limits), and the two answers are compared."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mocksrv.conform.accounts import Account
from mocksrv.conform.compare import Difference, Rules, compare
from mocksrv.upstream import Connector, Link, Message, Target, WireError

MAX_BODY = 16 * 1024 * 1024
WRONG_SECRET = "WrongSecretKeyForConformance0000000000000"
GIVE_UP_AFTER = 3  # transport errors in a row on one side end that plan


@dataclass
class Call:
    """One request as a client builds it, before signing."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    sign: str = "yes"  # yes | wrong-secret | no
    unsigned: dict[str, str] = field(default_factory=dict)  # added after signing


@dataclass
class Ctx:
    """One side's view of a plan: its account, its answers so far by step name, a run tag."""

    account: Account
    run: str
    answers: dict[str, Message] = field(default_factory=dict)


@dataclass
class Step:
    name: str
    operation: str
    build: Callable[[Ctx], Call]
    rules: Rules = Rules()
    same_as: str | None = None  # behaviour: answers the same body as that step did
    funds: bool = False  # a GetAvailableFunds call: also paced by the funds rate
    until: Callable[[Message], bool] | None = None  # repeat (paced) until true: a report


@dataclass
class Result:
    plan: str
    step: str
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    seconds: float = 0.0


class Pacer:
    """At least 1/rate seconds from one answer to the next request (1/funds_rate between
    GetAvailableFunds calls): measured from the answer, so the target sees them that far apart
    however long each took. A rate of 0 does not pace."""

    def __init__(self, rate: float, funds_rate: float) -> None:
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.funds_gap = 1.0 / funds_rate if funds_rate > 0 else 0.0
        self.last = self.last_funds = float("-inf")

    def wait(self, funds: bool) -> None:
        due = self.last + self.gap
        if funds:
            due = max(due, self.last_funds + self.funds_gap)
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def done(self, funds: bool) -> None:
        self.last = time.monotonic()
        if funds:
            self.last_funds = self.last


class Side:
    """The target, or mocksrv: where each API's requests go, kept connections, a pacer."""

    def __init__(
        self, name: str, targets: dict[str, Target], connector: Connector, pacer: Pacer
    ) -> None:
        self.name, self.targets, self.pacer = name, targets, pacer
        self.link = Link(connector, MAX_BODY)

    def send(self, account: Account, call: Call, funds: bool = False) -> Message:
        target = self.targets[account.api]
        raw = request_bytes(target, account, call)
        self.pacer.wait(funds)
        try:
            response, _ = self.link.exchange(target, raw, call.method)
        finally:
            self.pacer.done(funds)
        return response

    def close(self) -> None:
        self.link.close()


def request_bytes(target: Target, account: Account, call: Call) -> bytes:
    """The request as sent: Host first, then the headers botocore signed, then the unsigned."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = target.url + call.path
    request = AWSRequest(method=call.method, url=url, data=call.body, headers=dict(call.headers))
    if call.sign != "no":
        secret = account.secret_key if call.sign == "yes" else WRONG_SECRET
        signer = S3SigV4Auth if account.service == "s3" else SigV4Auth
        signer(Credentials(account.access_key, secret), account.service, account.region).add_auth(
            request
        )
    lines = [f"{call.method} {call.path} HTTP/1.1", f"Host: {target.netloc}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    lines += [f"{k}: {v}" for k, v in call.unsigned.items()]
    if call.body or call.method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(call.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + call.body


@dataclass
class Options:
    wait_seconds: float = 60.0  # how long a step waits for what it polls (a report)
    ignore_headers: frozenset[str] = frozenset()


def run_plan(
    plan: str, steps: list[Step], sides: list[tuple[Side, Ctx]], options: Options
) -> list[Result]:
    """Every step on both sides (the target first), compared; GIVE_UP_AFTER failed steps in a
    row end the plan."""
    results: list[Result] = []
    failures = 0
    for step in steps:
        started = time.monotonic()
        result = Result(plan, step.name)
        answers: list[Message] = []
        for i, (side, ctx) in enumerate(sides):
            try:
                answer, note = _run(step, side, ctx, options.wait_seconds)
            except (OSError, WireError) as exc:
                result.error = f"{side.name}: {exc}"
                break
            if note and i == 0:  # the target need not make it (a report the real one keeps)
                result.note = f"{side.name}: {note}"
            elif note:
                result.error = f"{side.name}: {note}"
            answers.append(answer)
            ctx.answers[step.name] = answer
        failures = failures + 1 if result.error else 0
        if result.error is None and result.note is None:
            ctxs = [ctx for _, ctx in sides]
            result.differences = _compare(step, answers, ctxs, options.ignore_headers)
        result.seconds = time.monotonic() - started
        results.append(result)
        if failures >= GIVE_UP_AFTER:
            results.append(Result(plan, "(the rest)", error="stopped after repeated failures"))
            break
    return results


def _run(step: Step, side: Side, ctx: Ctx, wait_seconds: float) -> tuple[Message, str | None]:
    answer = side.send(ctx.account, step.build(ctx), step.funds)
    if step.until is None:
        return answer, None
    deadline = time.monotonic() + wait_seconds
    while not step.until(answer):
        if time.monotonic() > deadline:
            return answer, f"nothing after {wait_seconds:g} s (status {answer.status})"
        time.sleep(1.0)
        answer = side.send(ctx.account, step.build(ctx), step.funds)
    return answer, None


def _compare(
    step: Step, answers: list[Message], ctxs: list[Ctx], ignore: frozenset[str]
) -> list[Difference]:
    theirs, ours = answers
    out = compare(step.operation, ours, theirs, step.rules, ignore)
    if step.same_as is not None:
        same = [
            "yes" if ctx.answers.get(step.same_as, None) is not None
            and ctx.answers[step.same_as].body == answer.body else "no"
            for ctx, answer in zip(ctxs, answers, strict=True)
        ]  # fmt: skip
        if same[0] != same[1]:
            where = f"{step.operation} answers as {step.same_as!r} did"
            out.append(Difference("behaviour", where, same[1], same[0]))
    return out
