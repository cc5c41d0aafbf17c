"""The request log: one line per API request at `info` (logger `mocksrv.requests`)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from mocksrv import logs

if TYPE_CHECKING:
    from mocksrv.call import Call

LOG = logging.getLogger(logs.REQUESTS)
INFO = logging.INFO


def record(call: Call) -> None:
    """A runtime recorder: the call's line, handed to the log's writer thread (`serve` and
    `run`) or, in a process that set up logging itself, to the `mocksrv.requests` logger."""
    sink = logs.SINK
    if sink is None:
        if LOG.isEnabledFor(INFO):
            LOG.info("%s", logs.request_message(_item(call)))
    elif sink.requests:  # the configured level lets request lines through (_item, inlined)
        sink.put((
            call.started, time.perf_counter(), call.api, call.operation, call.identity,
            call.outcome, call.status, call.request_id, call.method, call.path,
            call.signature_detail,
        ))  # fmt: skip


def _item(call: Call) -> logs.Item:
    return (
        call.started, time.perf_counter(), call.api, call.operation, call.identity, call.outcome,
        call.status, call.request_id, call.method, call.path, call.signature_detail,
    )  # fmt: skip
