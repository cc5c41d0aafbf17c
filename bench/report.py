"""The results table: mocksrv / peer ratios against issue 6's targets, as markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import scale_bench

Row = tuple[str, Any, Any, str, str]  # metric, mocksrv, peer, target, verdict
INSTRUCTION_ROWS = (
    ("verify", "verify GET"),
    ("create", "CreateGiftCard POST"),
    ("s3-put", "S3 PutObject 1 KiB (with its processing)"),
    ("s3-get", "S3 GetObject ~1 KiB"),
)
# bench/instructions.py VARIANTS: the row's label and its target (on / off at most)
OBSERVABILITY_ROWS = {
    "request log at info vs warning": ("request log at info vs warning", 1.05),
    "metrics vs none": ("metrics vs none", 1.03),
}


def _get(d: dict[str, Any], *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _ratio(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and b:
        return a / b
    return None


def _invalid(sides: dict[str, dict[str, Any]]) -> str:
    """'' if every run was clean, else which side failed how."""
    bad = [
        f"{name}: {r.get('non2xx', 0)} non-2xx, {r.get('socket_errors', 0)} socket errors"
        for name, r in sides.items()
        if r and not r.get("valid", True)
    ]
    return f"INVALID ({'; '.join(bad)})" if bad else ""


def _verdict(ratio: float | None, op: str, bound: float, invalid: str = "") -> str:
    if invalid:
        return invalid
    if ratio is None:
        return "not measured"
    met = ratio >= bound if op == ">=" else ratio <= bound
    return "met" if met else f"gap ({ratio:.2f}x vs {op} {bound}x)"


def rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(metric: str, m: Any, p: Any, peer: str, target: str, verdict: str) -> None:
        r = _ratio(m, p)
        out.append({
            "metric": metric, "mocksrv": m, "peer": p, "peer_name": peer,
            "ratio": round(r, 3) if r is not None else None, "target": target, "verdict": verdict,
        })  # fmt: skip

    st = res.get("startup") or {}
    m, w = _get(st, "mocksrv", "startup_ms"), _get(st, "wiremock", "startup_ms")
    v = _verdict(_ratio(m, w), "<=", 0.2)
    if v == "met" and m is not None and m >= 300:
        v = f"ratio met; {m:.0f} ms is not under the 300 ms aim"
    add("start-up to first 200, median (ms)", m, w, "WireMock", "<= 0.2x (aim < 300 ms)", v)
    m = _get(res, "http", "mocksrv", "startup_ms_bench_scenario")
    add("start-up, --scenario bench/scenario.yaml, one launch (ms)", m, None, "-", "-", "info")
    m, w = _get(st, "mocksrv", "idle_rss_mib"), _get(st, "wiremock", "idle_rss_mib")
    add("idle RSS after start-up (MiB)", m, w, "WireMock", "<= 0.5x", _verdict(_ratio(m, w), "<=", 0.5))  # fmt: skip
    th = res.get("http") or {}
    m, w = _get(th, "mocksrv", "rss_after_load_mib"), _get(th, "wiremock", "rss_after_load_mib")
    add("idle RSS after load (MiB)", m, w, "WireMock", "<= 0.5x", _verdict(_ratio(m, w), "<=", 0.5))  # fmt: skip
    for op, label in (("verify", "verify GET"), ("create", "CreateGiftCard POST")):
        ms, ws = _get(th, "mocksrv", op) or {}, _get(th, "wiremock", op) or {}
        invalid = _invalid({"mocksrv": ms, "WireMock": ws})
        m, w = ms.get("rps"), ws.get("rps")
        add(f"{label} req/s (16 conns)", m, w, "WireMock", ">= 1.0x", _verdict(_ratio(m, w), ">=", 1.0, invalid))  # fmt: skip
        add(f"{label} p50 (ms)", ms.get("p50_ms"), ws.get("p50_ms"), "WireMock", "-", "info")
        m, w = ms.get("p99_ms"), ws.get("p99_ms")
        add(f"{label} p99 (ms)", m, w, "WireMock", "<= 1.0x", _verdict(_ratio(m, w), "<=", 1.0, invalid))  # fmt: skip
        ns = _get(th, "wiremock-nojournal", op) or {}
        if ns:
            invalid = _invalid({"mocksrv": ms, "WireMock": ns})
            m, w = ms.get("rps"), ns.get("rps")
            add(f"{label} req/s vs no journal", m, w, "WireMock --no-request-journal", ">= 1.0x", _verdict(_ratio(m, w), ">=", 1.0, invalid))  # fmt: skip
            m, w = ms.get("p99_ms"), ns.get("p99_ms")
            add(f"{label} p99 vs no journal (ms)", m, w, "WireMock --no-request-journal", "<= 1.0x", _verdict(_ratio(m, w), "<=", 1.0, invalid))  # fmt: skip
        bs = _get(th, "mocksrv-baseline", op) or {}
        if bs:
            invalid = _invalid({"mocksrv": ms, "baseline": bs})
            m, w = ms.get("rps"), bs.get("rps")
            add(f"{label} req/s vs baseline", m, w, "baseline mocksrv", ">= 0.95x", _verdict(_ratio(m, w), ">=", 0.95, invalid))  # fmt: skip
            add(f"{label} p99 vs baseline (ms)", ms.get("p99_ms"), bs.get("p99_ms"), "baseline mocksrv", "-", "info")  # fmt: skip
    s3 = res.get("s3") or {}
    for op, label in (("put", "S3 PutObject 1 KiB"), ("get", "S3 GetObject ~1 KiB")):
        ms, ws = _get(s3, "mocksrv", op) or {}, _get(s3, "moto", op) or {}
        invalid = _invalid({"mocksrv": ms, "moto": ws})
        m, w = ms.get("rps"), ws.get("rps")
        add(f"{label} ops/s (16 conns)", m, w, "bare moto", ">= 0.9x", _verdict(_ratio(m, w), ">=", 0.9, invalid))  # fmt: skip
        add(f"{label} p50 (ms)", ms.get("p50_ms"), ws.get("p50_ms"), "bare moto", "-", "info")
        add(f"{label} p99 (ms)", ms.get("p99_ms"), ws.get("p99_ms"), "bare moto", "-", "info")
    pr = res.get("promo") or {}
    ms_ = pr.get("duration_ms")
    secs = ms_ / 1000 if isinstance(ms_, int | float) else None
    accepted = _get(pr, "rows", "accepted")
    ok = secs is not None and accepted == pr.get("codes")
    v = "not measured" if secs is None else ("met" if ok and secs < 3 else f"gap ({secs:.2f} s)")
    if secs is not None and not ok:
        v = f"INVALID ({accepted} of {pr.get('codes')} accepted)"
    n_codes = f"{pr['codes'] / 1e6:g}M" if pr.get("codes") else "1M"
    target = "< 3 s"
    if pr.get("codes", 1_000_000) != 1_000_000:
        target, v = "< 3 s for 1M", "info (not 1M codes)"
    add(f"{n_codes} promo codes: pipeline time (report durationMs, s)", secs, None, "-", target, v)
    add(f"{n_codes} promo codes: upload to report (s)", pr.get("upload_to_report_s"), None, "-", "-", "info")  # fmt: skip
    add(f"{n_codes} promo codes: peak RSS (MiB)", pr.get("rss_peak_mib"), None, "-", "-", "info")
    _soak_rows(res.get("soak") or {}, add)
    _tenant_rows(res.get("tenants") or {}, add)
    mx = res.get("mixed") or {}
    v = "not measured" if not mx or "ok" not in mx else ("met" if mx["ok"] else "FAILED")
    n = sum(x for k, x in (mx.get("operations") or {}).items() if k != "error")
    add(f"correctness under load ({n} mixed ops)", "pass" if mx.get("ok") else None, None, "-", "consistent state", v)  # fmt: skip

    ins = res.get("instructions") or {}
    why = ins.get("error") or ins.get("skipped")
    if why:
        add("CPU instructions per request vs baseline", None, None, "baseline mocksrv", "<= 1.05x", f"not measured ({why})")  # fmt: skip
    per = ins.get("per_request") or {}
    for kind, label in INSTRUCTION_ROWS:
        if kind in per:
            m, b = per[kind]["this"], per[kind]["baseline"]
            add(f"{label} CPU instructions per request vs baseline", round(m), round(b), "baseline mocksrv", "<= 1.05x", _verdict(_ratio(m, b), "<=", 1.05))  # fmt: skip

    ob = res.get("observability") or {}
    why = ob.get("error") or ob.get("skipped")
    if why:
        add("request log and metrics: CPU instructions per verify", None, None, "-", "-", f"not measured ({why})")  # fmt: skip
    for what, (label, limit) in OBSERVABILITY_ROWS.items():
        got = (ob.get("per_request") or {}).get(what)
        if got:
            add(f"{label}: CPU instructions per verify", round(got["on"]), round(got["off"]), "the same app without it", f"<= {limit}x", _verdict(_ratio(got["on"], got["off"]), "<=", limit))  # fmt: skip

    _state_rows(res.get("state") or {}, add)
    scale_bench.rows(res.get("scale") or {}, add, _ratio, _verdict, _invalid)
    return out


def _state_rows(sb: dict[str, Any], add: Any) -> None:
    """CreateGiftCard on SQLite and PostgreSQL against memory; start-up on a big state."""
    mem = sb.get("create_memory") or {}
    for label, name, bound in (("SQLite", "sqlite", 0.7), ("PostgreSQL", "postgresql", 0.4)):
        side = sb.get(f"create_{name}") or {}
        if "skipped" in side:
            add(f"CreateGiftCard req/s with --state {label} (16 conns)", None, mem.get("rps"), "in memory, same run", f">= {bound}x", f"not measured ({side['skipped']})")  # fmt: skip
            continue
        invalid = _invalid({"memory": mem, label: side})
        m, p = side.get("rps"), mem.get("rps")
        add(f"CreateGiftCard req/s with --state {label} (16 conns)", m, p, "in memory, same run", f">= {bound}x", _verdict(_ratio(m, p), ">=", bound, invalid))  # fmt: skip
    ms, rss = sb.get("startup_big_state_ms"), sb.get("startup_big_state_rss_mib")
    cards = sb.get("state_cards", "?")
    v = "not measured" if ms is None else ("met" if ms < 1000 else f"gap ({ms:.0f} ms)")
    add(f"start-up with a SQLite state of {cards} cards, median (ms)", ms, None, "-", "< 1000 ms", v)  # fmt: skip
    v = "not measured" if rss is None else ("met" if rss < 150 else f"gap ({rss:.0f} MiB)")
    add("RSS after that start-up (MiB)", rss, None, "-", "< 150 MiB", v)


def _tenant_rows(tb: dict[str, Any], add: Any) -> None:
    if not tb:
        return
    if "error" in tb:
        add("tenants", None, None, "-", "-", f"not measured ({tb['error']})")
        return
    n = tb.get("tenants", "?")
    p99 = _get(tb, "create_ms", "p99")
    add(f"create a tenant, p99 of {n} (ms)", p99, None, "-", "< 50 ms", "met" if p99 is not None and p99 < 50 else f"gap ({p99} ms)")  # fmt: skip
    add(f"delete a tenant, p99 of {n} (ms)", _get(tb, "delete_ms", "p99"), None, "-", "-", "info")
    kib = tb.get("idle_tenant_kib")
    add(f"memory per idle tenant, RSS growth / {n} (KiB)", kib, None, "-", "< 2048 KiB", "met" if kib is not None and kib < 2048 else f"gap ({kib} KiB)")  # fmt: skip
    ins = tb.get("instructions") or {}
    if "skipped" in ins:
        add("tenants: CPU instructions per request", None, None, "-", "-", f"not measured ({ins['skipped']})")  # fmt: skip
    for kind, by in (ins.get("per_request") or {}).items():
        for who, (few, many) in by.items():
            add(f"{kind} signed with {who}: CPU instructions, {n} tenants vs few", round(many), round(few), "few tenants", "<= 1.05x", _verdict(_ratio(many, few), "<=", 1.05))  # fmt: skip


def _soak_rows(sk: dict[str, Any], add: Any) -> None:
    if not sk or "error" in sk:
        return
    quiet, loaded = sk.get("quiet") or {}, sk.get("loaded") or {}
    p99 = quiet.get("p99_ms")
    ok = isinstance(p99, int | float) and p99 < 100 and not quiet.get("failures")
    v = "met" if ok else f"gap ({p99} ms, {quiet.get('failures')} failed)"
    add("soak: new signed verify p99, 1,000 idle + 200 slowloris open (ms)", p99, None, "-", "< 100 ms, 0 failures", v)  # fmt: skip
    for label, ph in (("attack alone", quiet), ("attack + mixed load", loaded)):
        text = f"{ph.get('probes')} / {ph.get('failures')} / {ph.get('p50_ms')} / {ph.get('p99_ms')} / {ph.get('max_ms')}"  # fmt: skip
        add(f"soak: verify probes, {label} (count / failed / p50 / p99 / max ms)", text, None, "-", "-", "info")  # fmt: skip
    add("soak: idle connections still open near the end", f"{sk.get('idle_still_open')} of {sk.get('idle_held')}", None, "-", "-", "info")  # fmt: skip
    cut = sk.get("slowloris_cut_off") or {}
    add("soak: slowloris cut off (408 / closed / other)", f"{cut.get('408')} / {cut.get('closed')} / {cut.get('other')}", None, "-", "-", "info")  # fmt: skip
    add(f"soak: mixed load ops/s ({sk.get('mixed_threads')} threads, {sk.get('seconds')} s)", sk.get("mixed_ops_per_s"), None, "-", "-", "info")  # fmt: skip
    clean = sk.get("audit_ok") and not sk.get("mixed_errors")
    add("soak: mixed-load errors and state audit", "pass" if clean else None, None, "-", "consistent state", "met" if clean else "FAILED")  # fmt: skip
    rss = f"{sk.get('rss_start_mib')} / {sk.get('rss_max_mib')} / {sk.get('rss_end_mib')}"
    add("soak: RSS start / max / end (MiB)", rss, None, "-", "-", "info")


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.1f}" if abs(x) >= 10 else f"{x:.2f}"
    return str(x)


def markdown(res: dict[str, Any], table: list[dict[str, Any]]) -> str:
    meta = res.get("meta", {})
    lines = [f"# mocksrv benchmark, {meta.get('date', '')}", ""]
    for note in meta.get("notes", []):
        lines.append(f"> {note}")
    lines += ["", "| metric | mocksrv | peer | ratio | target | verdict |", "|---|---:|---:|---:|---|---|"]  # fmt: skip
    for r in table:
        peer = f"{_fmt(r['peer'])} ({r['peer_name']})" if r["peer"] is not None else "-"
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        lines.append(
            f"| {r['metric']} | {_fmt(r['mocksrv'])} | {peer} | {ratio} | {r['target']} | {r['verdict']} |"  # fmt: skip
        )
    if any(r["verdict"].startswith(("gap", "ratio met;")) for r in table):
        lines += [
            "",
            "Why a gap: see the Profile section of docs/benchmark.md (where the time goes).",
        ]
    errors = {k: v["error"] for k, v in res.items() if isinstance(v, dict) and "error" in v}
    if errors:
        lines += ["", "## Sections that could not run", ""]
        lines += [f"- **{k}**: {v}" for k, v in errors.items()]
    lines += ["", "## Environment", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items() if k not in ("notes", "date")]
    lines += ["", f"Raw numbers: `{meta.get('stem', 'results')}.json` beside this file.", ""]
    return "\n".join(lines)


def console(table: list[dict[str, Any]]) -> str:
    w = max(len(r["metric"]) for r in table)
    out = [f"{'metric':<{w}}  {'mocksrv':>10}  {'peer':>10}  {'ratio':>6}  verdict"]
    for r in table:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        out.append(
            f"{r['metric']:<{w}}  {_fmt(r['mocksrv']):>10}  {_fmt(r['peer']):>10}  {ratio:>6}  "
            f"{r['verdict']} [{r['target']}]"
        )
    return "\n".join(out)


def save(res: dict[str, Any], table: list[dict[str, Any]], out_dir: Path, stem: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"{stem}.md"
    md.write_text(markdown(res, table))
    (out_dir / f"{stem}.json").write_text(json.dumps({"table": table, "results": res}, indent=1, default=str))  # fmt: skip
    return md
