"""Issue 21's acceptance: eight pytest processes at once against one `mocksrv serve` (two of them
with -n 2), each running tests/support/tenant_suite.py (Amazon's AGCOD certification cases, a
Prime redeem of a single-use code, a promo upload with its report and landing claims, a frozen
clock, an injected fault, "called N times" expectations) in the tenant the plugin makes for it:
all pass, none sees another's data, and the server's own (default) tenant is left untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import requests

from tests.support.cli import Serve
from tests.support.paths import ROOT

SUITE = ROOT / "tests" / "support" / "tenant_suite.py"
TESTS = 8  # in the suite: 4 certification cases and 4 of its own


def test_eight_pytest_processes_at_once_each_in_a_tenant_of_its_own(tmp_path):
    srv = Serve()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKSRV_", "AWS_"))}
        env.update(MOCKSRV_URL=srv.url, PYTHONPATH=str(ROOT))
        jobs = []
        for job in range(8):
            folder = tmp_path / f"job{job}"
            folder.mkdir()
            shutil.copy(SUITE, folder / "test_tenant_suite.py")
            xdist = ["-n", "2"] if job in (3, 6) else []
            jobs.append(subprocess.Popen(
                [sys.executable, "-m", "pytest", "-p", "mocksrv", "-p", "no:cacheprovider",
                 "-q", *xdist, "test_tenant_suite.py"],
                cwd=folder, env={**env, "TENANT_JOB": str(job)}, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True,
            ))  # fmt: skip
        outputs = [job.communicate(timeout=600)[0] for job in jobs]
        for job, out in zip(jobs, outputs, strict=True):
            assert job.returncode == 0, out
            assert f"{TESTS} passed" in out, out
        assert requests.get(srv.url + "/__admin/tenants", timeout=10).json()["count"] == 0
        assert requests.get(srv.url + "/__admin/journal", timeout=10).json()["entries"] == []
        state = requests.get(srv.url + "/__admin/state", timeout=10).json()
        assert state["agcod"]["cards"] == [] and state["promotions"]["reports"] == []
    finally:
        srv.stop()
