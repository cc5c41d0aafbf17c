"""The local CA's files stay private to the user: a CA folder or key file that others can read
(made by an older version, copied in, under a loose umask) is tightened at start-up, and the log
says so. `mocksrv ca` makes the CA; `mocksrv serve --tls-port 0` is started on it."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest

from tests.support.cli import Serve
from tests.support.paths import ROOT

KEYS = ("ca-key.pem", "server-key.pem")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def ca_dir(tmp_path):
    ca = tmp_path / "ca"
    made = subprocess.run([sys.executable, "-m", "mocksrv", "ca", "--ca-dir", str(ca)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert made.returncode == 0, made.stderr
    return ca


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604], ids=["644", "640", "604"])
def test_key_files_others_can_read_are_tightened_at_start_up(ca_dir, loose):
    for name in KEYS:
        (ca_dir / name).chmod(loose)
    srv = Serve("--tls-port", "0", "--ca-dir", str(ca_dir))
    log = srv.stop()
    for name in KEYS:
        assert mode(ca_dir / name) == 0o600, name
        assert f"{ca_dir / name} was readable by others (mode {loose:o}): tightened to 600" in log


def test_a_ca_folder_others_can_enter_is_tightened_and_logged(ca_dir):
    ca_dir.chmod(0o755)
    srv = Serve("--tls-port", "0", "--ca-dir", str(ca_dir))
    log = srv.stop()
    assert mode(ca_dir) == 0o700
    assert f"{ca_dir} was readable by others (mode 755): tightened to 700" in log


def test_a_private_ca_is_left_as_it_is_and_not_mentioned(ca_dir):
    before = {name: (ca_dir / name).read_bytes() for name in KEYS}
    srv = Serve("--tls-port", "0", "--ca-dir", str(ca_dir))
    log = srv.stop()
    assert "tightened" not in log
    assert mode(ca_dir) == 0o700 and all(mode(ca_dir / name) == 0o600 for name in KEYS)
    assert {name: (ca_dir / name).read_bytes() for name in KEYS} == before
