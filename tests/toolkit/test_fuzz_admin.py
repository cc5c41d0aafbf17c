"""Issue 10: schemathesis over the admin API's OpenAPI document, against a real server.

The schemathesis command line runs every check it has (`--checks all`: server errors, status codes,
content types, response schemas and headers, negative data rejected, unsupported methods answered
405 with Allow, ...) in all its phases. One check is given room: semantic validation beyond what a
schema can say (scenario text that is not a valid scenario, a fault's rules, a clock instant out of
range) answers 400 to schema-valid input, so 400 is among the statuses positive data may get. The
server runs with an admin token, as when exposed.

MOCKSRV_FUZZ_EXAMPLES sets the examples per operation (default: a short CI budget); see
docs/hardening.md for the long run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.fuzzing import Counting, Tracebacks, budget

TOKEN = "fuzz-admin-token"
CONFIG = """[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
"""


def schemathesis_command() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert found, "schemathesis is in the test extra: pip install -e '.[test]'"
    return found


def test_admin_api_conforms_to_its_openapi(tmp_path, server_factory):
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    srv = server_factory(admin_token=TOKEN, wrap=Counting)
    with Tracebacks() as tracebacks:
        proc = subprocess.run(
            [schemathesis_command(), "--config-file", str(config), "run", f"{srv.url}/__admin/openapi.yaml",
             "--url", srv.url, "--header", f"Authorization: Bearer {TOKEN}",
             "--checks", "all", "--max-examples", str(budget(5)), "--seed", "10",
             "--generation-database", "none", "--continue-on-failure", "--no-color"],
            capture_output=True, text=True, timeout=3000, cwd=tmp_path,  # its cache goes there
        )  # fmt: skip
    counts = srv.app  # the Counting wrapper
    summary = re.findall(r".*(?:generated|passed|failed|failure).*", proc.stdout)
    print(f"schemathesis: {counts.total} admin requests, statuses {dict(counts.statuses)}")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert counts.total > 100, summary
    assert counts.server_errors == 0
    assert not tracebacks.records, [r.getMessage() for r in tracebacks.records]
