"""A one-million-code file: uploaded with boto3 (multipart), processed streamed, within seconds."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

from tests.support.promotions import (
    DEVO,
    NEW,
    file_name,
    s3_client,
    wait_report,
    without_preload,
)

ROWS = 1_000_000


def write_codes(path: Path, prefix: str) -> int:
    with path.open("w", newline="") as f:
        for start in range(0, ROWS, 10_000):
            f.write("".join(f"{prefix}{i:015d},new\n" for i in range(start, start + 10_000)))
    return path.stat().st_size


def upload_and_wait(s3: Any, path: Path) -> tuple[dict[str, Any], float, float]:
    key = NEW + file_name()
    started = time.perf_counter()
    s3.upload_file(str(path), DEVO, key)  # 8 MiB parts: a multipart upload
    uploaded = time.perf_counter()
    report = wait_report(s3, key, timeout=180)
    return report, uploaded - started, time.perf_counter() - started


def test_one_million_codes(tmp_path, server_factory, capsys):
    server = server_factory([without_preload(tmp_path)])
    s3 = s3_client(server.url)
    s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)  # moto's lazy start is not part of the timing

    size = write_codes(tmp_path / "a.csv", "A")
    report, upload_s, total_s = upload_and_wait(s3, tmp_path / "a.csv")
    assert report["status"] == "ACCEPTED", report["fileErrors"]
    assert report["rows"] == {"total": ROWS, "accepted": ROWS, "rejected": 0}
    assert report["inventory"]["available"] == ROWS

    # a second million under tracemalloc (which slows allocation several times) for the peak
    write_codes(tmp_path / "b.csv", "B")
    tracemalloc.start()
    try:
        traced, _, _ = upload_and_wait(s3, tmp_path / "b.csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert traced["rows"]["accepted"] == ROWS
    assert traced["inventory"]["available"] == 2 * ROWS
    with capsys.disabled():
        print(
            f"\n1M codes ({size / 2**20:.1f} MiB): upload {upload_s:.2f}s, pipeline "
            f"{report['durationMs'] / 1000:.2f}s, upload-to-report {total_s:.2f}s; "
            f"peak traced memory for the second million {peak / 2**20:.0f} MiB "
            "(moto's copies of the object and parts, and the inventory growing to 2M codes)"
        )
    assert report["durationMs"] < 20_000  # typically 1-3 s; lenient for a loaded CI machine
    # streamed: never the whole file decoded or split at once on top of the inventory
    assert peak < 400 * 2**20
