"""Profiles for the optimiser: py-spy over mocksrv under wrk load (verify, CreateGiftCard), and
`python -X importtime` of `mocksrv serve`. Writes collapsed stacks, flame graphs and top tables
to bench/.cache/profile/. Usage: python bench/profiling.py [--seconds 10]   (needs `pip install py-spy`)
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sign  # noqa: E402
from load import run_load  # noqa: E402
from peers import SCENARIO, launch  # noqa: E402
from procs import (  # noqa: E402
    CACHE,
    LOADGEN_CPU,
    free_port,
    pin_self,
    pinned,
    server_env,
    stop_all,
)

OUT = CACHE / "profile"
FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^)]*?)(?::(?P<line>\d+))?\)$")


def pyspy(pid: int, seconds: float, name: str) -> subprocess.Popen[bytes]:
    cmd = ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "250",
           "--gil", "--nonblocking", "--format", "raw", "--output", str(OUT / f"{name}.txt")]  # fmt: skip
    return subprocess.Popen(pinned(cmd, LOADGEN_CPU), stdout=subprocess.DEVNULL)


def top(collapsed: Path, n: int = 25) -> str:
    """Inclusive and self sample shares per function (file:function), from py-spy raw output."""
    incl: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        frames = [_short(f) for f in stack.split(";")]
        total += c
        for f in set(frames):
            incl[f] += c
        self_[frames[-1]] += c
    areas: collections.Counter[str] = collections.Counter()
    for f, c in self_.items():
        areas[_area(f)] += c
    lines = [f"samples: {total}", "", "self time by area:"]
    lines += [f"  {100 * c / total:5.1f}%  {a}" for a, c in areas.most_common()]
    lines += ["", "inclusive:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in incl.most_common(n)]
    lines += ["", "self:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in self_.most_common(n)]
    return "\n".join(lines)


def _area(short: str) -> str:
    file = short.split(":", 1)[0]
    if file.startswith("mocksrv/"):
        parts = file.split("/")
        return "/".join(parts[:3]) if parts[1] == "services" else "/".join(parts[:2])
    if file.startswith(("waitress/", "werkzeug/", "moto/", "botocore/")):
        return file.split("/", 1)[0]
    return "python stdlib: " + file.split("/")[-1].removesuffix(".py") if file else "(unknown)"


_TREE = str(Path(__file__).resolve().parents[1]) + "/"  # this checkout: frames shown from it


def _short(frame: str) -> str:
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    file = m["file"]
    for marker in ("site-packages/", "/lib/python3", _TREE):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{file}:{m['func']}"


def importtime(out: Path) -> str:
    """Import times of `mocksrv serve --port P` (embedded default scenario), biggest first."""
    port = free_port()
    cmd = [sys.executable, "-X", "importtime", "-m", "mocksrv", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=server_env())  # fmt: skip
    time.sleep(4)
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    out.write_text(err)
    rows = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            rows.append((int(m[2]), len(m[3]) // 2, m[4]))
    total = sum(us for us, level, _ in rows if level == 0)
    tops = sorted((r for r in rows if r[1] == 0), reverse=True)[:15]
    lines = [f"  {total / 1000:7.1f} ms  all imports (sum of top-level imports)", "  top-level:"]
    lines += [f"  {us / 1000:7.1f} ms  {name}" for us, _, name in tops]
    selfs = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if m:
            selfs.append((int(m[1]), m[3]))
    lines += ["  largest self times:"]
    lines += [f"  {us / 1000:7.1f} ms  {name}" for us, name in sorted(selfs, reverse=True)[:12]]
    return "\n".join(lines)


STARTUP = """
import cProfile, pstats, sys
from mocksrv.settings import Settings
prof = cProfile.Profile()
prof.enable()
from mocksrv.launch import load_app
from mocksrv.server import make_server
settings = Settings(port=0, scenario_paths=[sys.argv[1]])
app = load_app(settings)
server = make_server(app, settings)
prof.disable()
server.close()
pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
"""


def startup_profile(out: Path) -> str:
    """cProfile of what `serve` does before the port is open: imports, scenario load, app."""
    res = subprocess.run([sys.executable, "-c", STARTUP, str(SCENARIO)], capture_output=True,
                         text=True, timeout=60, env=server_env())  # fmt: skip
    out.write_text(res.stdout + res.stderr)
    return "\n".join(res.stdout.splitlines()[:45])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    if shutil.which("py-spy") is None:
        print("py-spy not installed: pip install py-spy", file=sys.stderr)
        return 2
    pin_self()
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="mocksrv-profile-"))
    try:
        port = free_port()
        server, _ = launch("mocksrv", port)
        verify = sign.write_requests(tmp / "v.req", [sign.raw("GET", sign.VERIFY_PATH, sign.prime_headers(port))])  # fmt: skip
        create = sign.write_requests(tmp / "c.req", sign.create_requests(port, int(2500 * args.seconds), "P"))  # fmt: skip
        run_load(port, verify, 3)
        for name, file in (("verify", verify), ("create", create)):
            spy = pyspy(server.pid, args.seconds, name)
            result = run_load(port, file, args.seconds)
            spy.wait(60)
            print(
                f"== {name}: {result.rps:.0f} req/s, p99 {result.p99_ms:.1f} ms (under py-spy; samples of the thread holding the GIL)"
            )
            report = top(OUT / f"{name}.txt")
            (OUT / f"{name}-top.txt").write_text(report)
            print(report)
        server.stop()
        print("== start-up imports (cumulative, top level)")
        print(importtime(OUT / "importtime.txt"))
        print("== start-up until the port is open (cProfile, cumulative)")
        print(startup_profile(OUT / "startup-cprofile.txt"))
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nfiles in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
