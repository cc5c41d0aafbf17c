"""Headless Chromium (Debian's `chromium`) for the dashboard tests: its path and flags, and a PNG
reader for one-shot screenshots (no image library needed)."""

from __future__ import annotations

import os
import shutil
import struct
import zlib

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("MOCKSRV_CHROMIUM") or shutil.which("chromium")
    assert path, "headless Chromium is needed: run tests/tools/install-browser.sh (as root)"
    return path


def png_pixels(data: bytes, rows: int | None = None) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(width, rows read, RGB pixels row by row) of an 8-bit RGB or RGBA, non-interlaced PNG, as
    Chromium writes its screenshots; only the first `rows` rows when given (pure Python: slow)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, head = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            head = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", head)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * bpp
    rows: list[bytearray] = []
    prev = bytearray(stride)
    height = min(height, rows or height)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    pixels = [tuple(r[x : x + 3]) for r in rows for x in range(0, stride, bpp)]
    return width, height, pixels  # type: ignore[return-value]
