"""`lightbox bench [--quick] [--json PATH] [--only SECTION,...]`: run, print a table, write JSON.

Runs the sections of ``benchmarks`` in order, each against its baseline in
the same run, then prints the targets of the performance issue as met or
missed. One throwaway mosquitto (the project's own config) serves every
section that needs a broker. Exit 0 when every section ran (targets missed
or not: this is a measurement), 1 when a section failed to run, 2 on bad
arguments.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import OPTIONAL_SECTIONS, SECTIONS
from benchmarks.common import Check, machine

NODELAY = "set_tcp_nodelay true"
#: Sections whose module's ``run(broker, folder, quick)`` is all there is to them.
BROKER_SECTIONS = {"engine": "engine_speed", "flood": "flood", "notify": "notify",
                   "coldstart": "coldstart", "memory": "memory"}


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add the bench options."""
    parser.add_argument("--quick", action="store_true",
                        help="short run (about two minutes) with fewer repeats")
    parser.add_argument("--json", metavar="PATH", default=None, help="write the results here")
    parser.add_argument("--markdown", metavar="PATH", default=None,
                        help="also write the tables as Markdown (for docs/performance.md)")
    parser.add_argument("--only", metavar="SECTION,...", default=None,
                        help=f"run only these sections: {','.join(SECTIONS)}")
    parser.add_argument("section", nargs="*", metavar="SECTION",
                        help="sections to run (the same as --only)")
    parser.add_argument("--stock-broker", action="store_true",
                        help="latency: also measure against a stock mosquitto (no "
                             "set_tcp_nodelay, default settings) in the same run")
    parser.add_argument("--banner", action="store_true",
                        help="budget: with a held notification banner over each animation")
    parser.add_argument("--cases", metavar="ANIM:WxH,...", default=None,
                        help="budget: only these cases, e.g. plasma:64x32,fire:128x64")
    parser.add_argument("--boxes", metavar="N,...", default=None,
                        help="fleet: fleet sizes to measure (default 1,10,50; quick 1,5)")
    parser.add_argument("--workdir", metavar="DIR", default=None,
                        help="keep broker and engine files here (default: a temp folder)")


def _sections(only: str | None) -> list[str]:
    if not only:
        return list(SECTIONS)
    chosen = [s.strip() for s in only.split(",") if s.strip()]
    known = (*SECTIONS, *OPTIONAL_SECTIONS)
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise SystemExit(f"lightbox bench: unknown section(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(known)}")
    return [s for s in known if s in chosen]


def parse_cases(text: str | None) -> tuple[tuple[str, int, int], ...] | None:
    """``plasma:64x32,fire:128x64`` as (animation, width, height) cases (None: the default)."""
    if not text:
        return None
    cases = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        try:
            name, size = item.split(":")
            w, h = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise SystemExit(f"lightbox bench: --cases: {item!r} is not ANIMATION:WIDTHxHEIGHT"
                             ) from None
        cases.append((name, w, h))
    return tuple(cases)


class Broker:
    """Starts the shared mosquitto on first use."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._brokers: dict[str, Any] = {}

    def get(self, extra: str = "", stock: bool = False) -> Any:
        """Return a running broker with the project's config (plus ``extra`` lines), or
        with a stock mosquitto's (``stock``)."""
        key = ("stock:" if stock else "") + extra
        if key not in self._brokers:
            from benchmarks.harness import start_broker

            name = "broker" if not key else "broker-" + str(len(self._brokers))
            self._brokers[key] = start_broker(self.workdir / name, extra, stock=stock)
        return self._brokers[key]

    def stop(self) -> None:
        """Stop every broker started."""
        for b in self._brokers.values():
            b.stop()


def shipped_broker_has_nodelay() -> bool:
    """True when deploy/mosquitto/lightbox.conf turns Nagle off on the broker's sockets."""
    from appliance.ops.broker import deploy_dir

    text = (deploy_dir() / "lightbox.conf").read_text(encoding="utf-8")
    return any(line.split("#", 1)[0].split() == ["set_tcp_nodelay", "true"]
               for line in text.splitlines())


def _latency(quick: bool, brokers: Broker, workdir: Path, stock_broker: bool
             ) -> tuple[dict[str, Any], list[Check]]:
    """The latency section: the shipped broker, and a stock one beside it when asked."""
    from benchmarks import latency

    out, checks = latency.run(brokers.get(), workdir / "latency", quick)
    out["broker_config"] = "deploy/mosquitto/lightbox.conf as shipped"
    if not shipped_broker_has_nodelay():
        # What the one-line broker fix would give, measured in the same run.
        alt, alt_checks = latency.run(brokers.get(NODELAY), workdir / "latency-nodelay",
                                      quick, n=100 if quick else 300)
        alt["broker_config"] = f"shipped config + '{NODELAY}'"
        out["with_broker_nodelay"] = alt
        for c in alt_checks:
            c.name += f" (broker + {NODELAY})"
            c.note = (c.note + "; " if c.note else "") + "informative: not the shipped config"
        checks += alt_checks
    if stock_broker:
        # The same engine and client code against what most users run, in the same run.
        stock, stock_checks = latency.run(brokers.get(stock=True), workdir / "latency-stock",
                                          quick, separate_qos=True)
        stock["broker_config"] = "stock mosquitto: auth + ACL, defaults, no set_tcp_nodelay"
        out["stock_broker"] = stock
        for c in stock_checks:
            c.name += " (stock broker)"
        checks += stock_checks
    return out, checks


def run_section(name: str, quick: bool, brokers: Broker, workdir: Path,
                opts: argparse.Namespace | None = None) -> tuple[dict[str, Any], list[Check]]:
    """Run one section and return (figures, checks); ``opts``: the section options."""
    sub = workdir / name
    sub.mkdir(parents=True, exist_ok=True)
    stock_broker = bool(opts and opts.stock_broker)
    if name == "fleet":
        from benchmarks import fleet

        boxes = opts.boxes if opts else None
        try:
            sizes = tuple(int(v) for v in boxes.split(",")) if boxes else None
        except ValueError:
            raise SystemExit(f"lightbox bench: --boxes: not a list of numbers: {boxes!r}"
                             ) from None
        return fleet.run(sub, quick, sizes)
    if name == "budget":
        from benchmarks import budget

        cases = parse_cases(opts.cases if opts else None)
        return budget.run(brokers.get(), sub, quick, cases, bool(opts and opts.banner))
    if name == "frames":
        from benchmarks import frames

        return frames.run(quick)
    if name == "latency":
        return _latency(quick, brokers, workdir, stock_broker)
    if name == "bridge":
        from benchmarks import http_bridge

        if not http_bridge.available():
            print("skipped: bridge not installed")
            return {"status": "skipped", "reason": "bridge not installed"}, []
        return http_bridge.run(brokers.get(), sub, quick)
    if name == "live":
        from benchmarks import live

        return live.run(quick)
    # The rest take (broker, folder, quick): engine, flood, notify, coldstart, memory.
    module = importlib.import_module(f"benchmarks.{BROKER_SECTIONS[name]}")
    return module.run(brokers.get(), sub, quick)


def _fmt(v: Any, nd: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.{nd}f}".rstrip("0").rstrip(".") if "." in f"{v:.{nd}f}" else f"{v}"
    return str(v)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Render a Markdown table (readable as plain text too)."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
            for r in cells]
    return "\n".join([line, sep, *body])


def render(result: dict[str, Any]) -> str:
    """Return the human-readable report (Markdown tables)."""
    m = result["machine"]
    parts = [
        f"Machine: {m['cpu_model']}, {m['cores_logical']} cores, Python {m['python']}, "
        f"numpy {m['numpy']}, load average {m['load_average']} at start, "
        f"{result.get('load_average_end')} at end; {'quick' if result['quick'] else 'full'} "
        f"run, commit {m.get('git_commit')}.",
    ]
    frames = result["sections"].get("frames")
    if frames and frames.get("status") == "ok":
        rows = [[r["animation"], r["size"], r["frame_ms_p50"], r["frame_ms_p99"],
                 r["frame_cpu_ms_p99"], r["overhead_ms_p50"], r["baseline_ms_p50"], r["speedup"],
                 r["transient_kib_per_frame"]]
                for r in frames["results"]]
        parts.append("Frame cost (draw + choke point + virtual show), ms:\n\n" + table(
            ["animation", "size", "p50", "p99", "CPU p99", "choke+show p50", "per-pixel p50",
             "speed-up x", "alloc KiB/frame"], rows))
    notify = result["sections"].get("notify")
    if notify and notify.get("status") == "ok":
        from benchmarks.notify import TABLE_HEADERS, table_rows

        parts.append("Notification banner over the heaviest animation, CPU ms per engine "
                     "tick:\n\n" + table(TABLE_HEADERS, table_rows(notify)))
    other = []
    for name in ("engine", "latency", "bridge", "flood", "memory", "notify", "live", "coldstart"):
        sec = result["sections"].get(name)
        if sec is None:
            continue
        for key, value in _key_figures(name, sec):
            other.append([name, key, value])
    if other:
        parts.append("Key figures:\n\n" + table(["section", "figure", "value"], other))
    checks = _compact(result["checks"])
    if checks:
        rows = [[c["section"], c["name"], c["value"], c["unit"], c["target"],
                 {True: "met", False: "MISSED", None: "not measured"}[c["met"]], c["note"]]
                for c in checks]
        parts.append("Targets:\n\n" + table(
            ["section", "figure", "measured", "unit", "target", "result", "note"], rows))
    s = result["summary"]
    parts.append(f"{s['met']} targets met, {s['missed']} missed, {s['not_measured']} not "
                 f"measured; sections: " + ", ".join(
                     f"{k} {v.get('status')}" for k, v in result["sections"].items()))
    return "\n\n".join(parts) + "\n"


def _compact(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold the per-animation frame checks into the worst case of each kind (JSON has all)."""
    out = [c for c in checks if c["section"] != "frames"]
    frames = [c for c in checks if c["section"] == "frames"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in frames:
        anim, size, rest = c["name"].split(" ", 2)
        groups.setdefault(f"{size} {rest}", []).append({**c, "animation": anim})
    folded = []
    for kind, cs in groups.items():
        measured = [c for c in cs if c["value"] is not None]
        if not measured:
            continue
        worst = (max if cs[0]["target"].startswith("<") else min)(
            measured, key=lambda c: c["value"])
        missed = [c["animation"] for c in cs if c["met"] is False]
        note = (f"worst: {worst['animation']}; " if not missed else
                f"missed by {', '.join(missed)}; ") + f"{len(cs) - len(missed)}/{len(cs)} met"
        folded.append({**worst, "name": f"every animation {kind}", "met": not missed,
                       "note": note})
    return folded + out


def _key_figures(name: str, sec: dict[str, Any]) -> list[tuple[str, Any]]:
    if sec.get("status") != "ok":
        return [("status", f"{sec.get('status')}: {sec.get('reason') or sec.get('error', '')}"
                 [:200])]
    if name == "engine":
        c, u = sec["capped"], sec["uncapped"]
        return [("30 fps: CPU % of one core", c["cpu_percent_one_core"]),
                ("30 fps: RSS MB (max)", c["rss_mb_max"]),
                ("30 fps: achieved fps", c["fps"]),
                ("30 fps: frame p99 ms (engine's own)", c["frame_ms_p99"]),
                ("30 fps: dropped frames", c["frames_dropped"]),
                ("uncapped: fps mean / min 1 s", f"{_fmt(u['fps'])} / "
                                                 f"{_fmt(u['fps_min_interval'])}"),
                ("uncapped: CPU % of one core", u["cpu_percent_one_core"])]
    if name == "latency":
        from benchmarks.latency import key_figures as latency_figures

        return latency_figures(sec, NODELAY)
    if name == "bridge":
        a, f, h = sec["animation_post"], sec["animation_post_floor"], sec["health_load"]
        return [("POST /api/animation p50 / p99 ms", f"{_fmt(a['p50_ms'])} / {_fmt(a['p99_ms'])}"),
                ("floor POST p50 / p99 ms", f"{_fmt(f['p50_ms'])} / {_fmt(f['p99_ms'])}"),
                ("GET /api/health req/s (floor)", f"{_fmt(h['bridge_rps'])} "
                                                  f"({_fmt(h['floor_rps'])})")]
    if name == "flood":
        fl = sec["floor_bare_paho_subscriber"]
        return [("send rate /s", sec["send_rate_per_s"]),
                ("final state after last send s", sec["final_state_after_last_send_s"]),
                ("floor: bare paho drained after last send s",
                 fl["drained_after_last_send_s"]),
                ("read rate /s: engine (bare paho)", f"{_fmt(sec['engine_read_rate_per_s'])} "
                                                     f"({_fmt(fl['read_rate_per_s'])})"),
                ("fps in flood window / target", sec["fps_fraction_flood_window"]),
                ("frame slots missed", sec["frames_dropped_flood_window"]),
                ("commands counted / superseded / lost",
                 f"{sec['commands_counted_by_engine']} / {sec['commands_superseded_in_queue']}"
                 f" / {sec['commands_lost_before_engine']}")]
    if name == "memory":
        return [("frames / seconds", f"{sec['frames']:,} / {_fmt(sec['seconds'])}"),
                ("RSS after warm-up -> end MB", f"{_fmt(sec['rss_mb_after_warmup'])} -> "
                                                f"{_fmt(sec['rss_mb_end'])}"),
                ("slope MB per 100k frames", sec["slope_mb_per_100k_frames"])]
    if name in ("notify", "live", "coldstart"):
        return list(importlib.import_module(f"benchmarks.{name}").key_figures(sec))
    return []


def run(args: argparse.Namespace) -> int:
    """Run the chosen sections."""
    chosen = _sections(",".join(filter(None, [args.only, *args.section])))
    own_tmp = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="lightbox-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"version": 1, "quick": bool(args.quick), "machine": machine(),
                              "sections": {}, "checks": []}
    brokers = Broker(workdir)
    failed = False
    checks: list[Check] = []
    try:
        for name in chosen:
            print(f"== {name} ...", flush=True)
            started = time.monotonic()
            try:
                out, sec_checks = run_section(name, args.quick, brokers, workdir, args)
                out.setdefault("status", "ok")
            except Exception as exc:
                failed = True
                out = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:2000],
                       "traceback": traceback.format_exc()[-4000:]}
                sec_checks = []
                print(f"   {name} failed: {exc}", flush=True)
            out["elapsed_s"] = round(time.monotonic() - started, 1)
            result["sections"][name] = out
            checks += sec_checks
            for c in sec_checks:
                mark = {True: "met", False: "MISSED", None: "-"}[c.met]
                print(f"   {c.name}: {c.value if c.value is None else round(c.value, 3)} "
                      f"{c.unit} (target {c.target}) {mark}", flush=True)
    finally:
        brokers.stop()
        if own_tmp and not failed:
            shutil.rmtree(workdir, ignore_errors=True)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["checks"] = [c.as_dict() for c in checks]
    result["summary"] = {
        "met": sum(1 for c in checks if c.met is True),
        "missed": sum(1 for c in checks if c.met is False),
        "not_measured": sum(1 for c in checks if c.met is None),
    }
    text = render(result)
    print()
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.json}")
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    if failed:
        print(f"some sections failed; their files are kept in {workdir}")
    return 1 if failed else 0
