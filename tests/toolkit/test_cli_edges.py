"""Issue 22: the command line's edges give one clear line and a non-zero exit, or work."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import mocksrv as pkg
from tests.support.cli import PY, mocksrv_cli
from tests.support.paths import ROOT


def test_run_on_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = mocksrv_cli("run", "--port", str(port), "--", sys.executable, "-c", "pass")
    assert done.returncode == 2
    assert done.stderr.startswith(f"mocksrv: cannot listen on 127.0.0.1:{port}: Address already")
    assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_serve_on_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = mocksrv_cli("serve", "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.startswith(f"mocksrv: cannot listen on 127.0.0.1:{port}: Address already")
    assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_schema_into_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen([PY, "-m", "mocksrv", "schema"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before a byte was written: every write fails
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(60) == 141  # what a shell reports for a command ended by SIGPIPE
    assert err == b""
    piped = subprocess.run(["bash", "-c", f"{PY} -m mocksrv schema | head -c 20"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert piped.stdout.startswith("{") and piped.stderr == ""


def test_short_version_flag():
    for flag in ("-V", "--version"):
        done = mocksrv_cli(flag)
        assert (done.returncode, done.stdout) == (0, f"mocksrv {pkg.__version__}\n")


def test_a_misspelt_bundled_name_gets_a_suggestion():
    done = mocksrv_cli("serve", "--port", "0", "--scenario", "agcod-sandbox-tst-plan")
    assert done.returncode == 2
    assert "agcod-sandbox-tst-plan: no such file, and no bundled scenario of that name; did you " \
           "mean 'agcod-sandbox-test-plan'?" in done.stderr  # fmt: skip
    assert "Traceback" not in done.stderr


def test_a_missing_file_has_no_made_up_line_and_a_missing_base_has_its_real_one(tmp_path):
    done = mocksrv_cli("validate", str(tmp_path / "nope.yaml"))
    assert done.returncode == 1
    assert done.stdout.startswith(f"{tmp_path / 'nope.yaml'}: no such file")
    own = tmp_path / "own.yaml"
    own.write_text("version: 1\nname: own\nextends: defualt\n")
    done = mocksrv_cli("validate", str(own))
    assert done.returncode == 1
    assert done.stdout.startswith(f"{own}:3: extends: 'defualt' is neither a file")


def test_a_server_started_with_sigint_ignored_still_stops_on_sigint():
    # what a shell does to a job it starts in the background of a script: SIGINT ignored
    proc = subprocess.Popen(
        [PY, "-m", "mocksrv", "serve", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509
    )  # fmt: skip
    assert proc.stdout is not None
    while not proc.stdout.readline().startswith("Scenario:"):
        pass
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "mocksrv stopped" in out and "Traceback" not in err
