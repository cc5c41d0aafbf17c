"""The SQLite state file's edges: links (D16), damage (D17), who may read it (D24), formats.

Each test runs `mocksrv serve --state` as a child process (tests.support.cli.Serve).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.cli import Serve
from tests.support.paths import ROOT
from tests.support.state import agcod_state, create


def _serve_fails(*args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mocksrv", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


def _one_clear_line(done: subprocess.CompletedProcess[str], text: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and text in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_a_symbolic_link_reaches_the_same_state_as_its_target(tmp_path):
    """Two servers, one given the file and one a symbolic link to it, share one state: a card
    issued through one replays through the other, and nothing is lost after both restart."""
    state = tmp_path / "state.db"
    link = tmp_path / "link.db"
    link.symlink_to(state)
    one = Serve("--state", str(state))
    two = Serve("--state", str(link))
    try:
        first = create(one.url, "MocksProdLinked1", "3")
        assert first.status_code == 200, first.text
        assert create(two.url, "MocksProdLinked1", "3").content == first.content
        assert create(two.url, "MocksProdLinked2", "4").status_code == 200
    finally:
        one.kill()
        two.kill()
    again = Serve("--state", str(state))
    try:
        ids = sorted(c["creationRequestId"] for c in agcod_state(again.url)["cards"])
        assert ids == ["MocksProdLinked1", "MocksProdLinked2"]
    finally:
        again.stop()
    assert not (tmp_path / "link.db-wal").exists()  # one log, beside the real file


def test_a_hard_linked_state_is_refused(tmp_path):
    state = tmp_path / "state.db"
    Serve("--state", str(state)).stop()
    os.link(state, tmp_path / "other.db")
    _one_clear_line(_serve_fails("--state", str(tmp_path / "other.db")), "2 hard links")
    _one_clear_line(_serve_fails("--state", str(state)), "2 hard links")


def test_a_damaged_state_is_one_clear_line_and_exit_2(tmp_path):
    """An intact SQLite header, damaged pages after it (D17)."""
    state = tmp_path / "state.db"
    srv = Serve("--state", str(state))
    for n in range(20):
        assert create(srv.url, f"MocksProdDamaged{n}", "1").status_code == 200
    srv.stop()
    data = bytearray(state.read_bytes())
    assert data[:16] == b"SQLite format 3\x00"
    for i in range(100, len(data)):  # the header stays; every page's content is garbage
        data[i] = (i * 151) % 251
    state.write_bytes(bytes(data))
    _one_clear_line(_serve_fails("--state", str(state)), "is not a mocksrv state or is damaged")


def test_another_file_is_one_clear_line_and_exit_2(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    junk.chmod(0o600)
    _one_clear_line(_serve_fails("--state", str(junk)), "is not a mocksrv state or is damaged")


def test_a_state_of_the_earlier_format_is_refused_by_name(tmp_path):
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema', '1')")
    old.chmod(0o600)
    _one_clear_line(_serve_fails("--state", str(old)), "has format 1")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_its_log_its_lock_and_a_folder_made_for_it_are_private(tmp_path):
    """D24: the state holds claim codes and STS record; with the usual umask (022) it was 0644."""
    folder = tmp_path / "made" / "for-it"
    state = folder / "state.db"
    old = os.umask(0o022)
    try:
        srv = Serve("--state", str(state))
        try:
            assert create(srv.url, "MocksProdPrivate1").status_code == 200
            modes = {p.name: _mode(p) for p in folder.iterdir()}
        finally:
            srv.kill()
    finally:
        os.umask(old)
    assert modes == {
        "state.db": 0o600,
        "state.db-wal": 0o600,
        "state.db-shm": 0o600,
        "state.db.lock": 0o600,
    }, modes
    assert _mode(folder) == 0o700 and _mode(folder.parent) == 0o700


def test_a_readable_state_is_made_private_with_a_warning(tmp_path):
    state = tmp_path / "state.db"
    Serve("--state", str(state)).stop()
    state.chmod(0o644)
    srv = Serve("--state", str(state))
    err = srv.stop()
    assert _mode(state) == 0o600
    assert "was readable by others (mode 644); now 0600" in err


def test_the_database_is_sqlite_in_wal_mode_with_its_format(tmp_path):
    state = tmp_path / "state.db"
    srv = Serve("--state", str(state))
    requests.get(srv.url + "/__admin/health", timeout=5)
    srv.stop()
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "2"
