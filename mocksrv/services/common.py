"""What every API's install does: build its SigV4 policy from the runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mocksrv import sigv4

if TYPE_CHECKING:
    from mocksrv.api import Api
    from mocksrv.runtime import Runtime


def verify_policy(
    runtime: Runtime,
    service: str,
    api: Api,
    *,
    normalize_path: bool = True,
    signers: tuple[str, ...] = (),
    sessions: bool = False,
) -> sigv4.VerifyPolicy:
    """SigV4 policy for one API: its scope's service name, its skew window and the runtime's
    debug switch (services are rebuilt with every runtime, so these are always the current);
    the identities that may sign (`signers`: those of these APIs, by default the API's own) and
    whether STS session keys may (docs/sts.md says which APIs take them and why)."""
    return sigv4.VerifyPolicy(
        service=service,
        skew_seconds=runtime.model.skew_seconds[api.name],
        normalize_path=normalize_path,
        debug=runtime.sigv4_debug,
        apis=signers or (api.name,),
        sessions=sessions,
    )
