"""Parsing benchmarks: our parser against a named baseline, both measured in the same run.

    python -m benchmarks.parsing.run                 # full size (about 9 GB of generated files)
    python -m benchmarks.parsing.run --scale 0.05    # quick run on small files
    python -m benchmarks.parsing.run --only json

Each bench generates its file once (deterministically, into --work-dir, reused afterwards), then
runs the baseline and the parser alternately, each in a fresh process, and reports the median wall
time of each side, their ratio, each side's CPU time (user + system, steadier than wall time when
other work shares the machine), and each side's peak resident memory (the child process's
ru_maxrss). The targets are those of the parsing issue: time within 1.5x the baseline; peak memory
within 1.5 GB (CSV) or 1 GB (JSON), the same for the 4x tall file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


GB = 1024**3


@dataclass(frozen=True)
class Bench:
    name: str
    kind: str  # tall | wide | json
    megabytes: float
    baseline: str
    extra_baselines: tuple[str, ...] = ()
    max_ratio: float = 1.5
    max_peak_bytes: int = int(1.5 * GB)


BENCHES = (
    Bench("tall CSV 1 GB", "tall", 1000, "baseline_csv_to_parquet"),
    Bench("tall CSV 4 GB", "tall", 4000, "baseline_csv_to_parquet"),
    Bench("wide CSV 140 payer/plans", "wide", 300, "baseline_csv_read"),
    Bench("JSON 300 MB", "json", 300, "baseline_ijson", ("baseline_ijson_float",), max_peak_bytes=1 * GB),
    Bench("JSON 1 GB", "json", 1000, "baseline_ijson", ("baseline_ijson_float",), max_peak_bytes=1 * GB),
)


@dataclass
class Run:
    seconds: float  # wall time of the work, measured in the child
    cpu_seconds: float  # the child's user + system time from wait4 (steadier on a busy machine)
    peak_bytes: int  # the child's ru_maxrss from wait4
    rows: int
    vm_hwm_bytes: int | None  # the child's own VmHWM, reported by itself


def run_side(side: str, source: Path, out: Path) -> Run:
    """Run one side in a child process; its own peak RSS comes from wait4's rusage."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.parsing.child", side, str(source), str(out)],
        stdout=subprocess.PIPE, env=_child_env(),
    )
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    out.unlink(missing_ok=True)
    if process.returncode != 0:
        raise RuntimeError(f"{side} on {source} failed with exit code {process.returncode}")
    report = json.loads(stdout.decode().strip().splitlines()[-1])
    return Run(
        report["seconds"], usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, report["rows"],
        report.get("vm_hwm_bytes"),
    )


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    return env


def source_for(bench: Bench, scale: float, work_dir: Path) -> Path:
    megabytes = bench.megabytes * scale
    path = work_dir / f"{bench.kind}-{megabytes:g}MB.{'json' if bench.kind == 'json' else 'csv'}"
    if not path.exists():
        # In a child process: a parent grown large by generating would inflate every later
        # child's ru_maxrss (Linux counts the forked copy of the parent before exec).
        print(f"  generating {path} ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "benchmarks.parsing.generate", bench.kind, str(path), "--megabytes", str(megabytes)],
            check=True, env=_child_env(), stdout=subprocess.DEVNULL,
        )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="glimmr parsing benchmarks")
    parser.add_argument("--scale", type=float, default=1.0, help="file sizes × this (0.05 for a quick run)")
    parser.add_argument("--work-dir", type=Path, default=Path(os.environ.get("GLIMMR_BENCH_DIR", "/tmp/glimmr-bench")))
    parser.add_argument("--only", choices=["tall", "wide", "json"], action="append", help="run only these kinds")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side; the median is reported")
    parser.add_argument("--skip-4x", action="store_true", help="skip the 4 GB tall file")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for bench in BENCHES:
        if args.only and bench.kind not in args.only:
            continue
        if args.skip_4x and bench.megabytes == 4000:
            continue
        print(f"{bench.name} (scale {args.scale:g})", flush=True)
        source = source_for(bench, args.scale, args.work_dir)
        out = args.work_dir / "bench-out.parquet"
        sides = [bench.baseline, *bench.extra_baselines, "glimmr"]
        runs: dict[str, list[Run]] = {s: [] for s in sides}
        for _ in range(args.repeat):
            for side in sides:
                runs[side].append(run_side(side, source, out))
        median = {s: statistics.median(r.seconds for r in runs[s]) for s in sides}
        cpu = {s: statistics.median(r.cpu_seconds for r in runs[s]) for s in sides}
        peak = {s: max(r.peak_bytes for r in runs[s]) for s in sides}
        ratio = median["glimmr"] / median[bench.baseline]
        ok_time = ratio <= bench.max_ratio
        ok_memory = peak["glimmr"] <= bench.max_peak_bytes
        line = {
            "bench": bench.name,
            "file_mb": round(source.stat().st_size / 1e6, 1),
            "baseline": bench.baseline,
            "baseline_s": round(median[bench.baseline], 2),
            "glimmr_s": round(median["glimmr"], 2),
            "ratio": round(ratio, 3),
            "ratio_target": bench.max_ratio,
            "baseline_cpu_s": round(cpu[bench.baseline], 2),
            "glimmr_cpu_s": round(cpu["glimmr"], 2),
            "cpu_ratio": round(cpu["glimmr"] / cpu[bench.baseline], 2),
            "baseline_peak_mb": round(peak[bench.baseline] / 2**20),
            "glimmr_peak_mb": round(peak["glimmr"] / 2**20),
            "peak_target_mb": round(bench.max_peak_bytes / 2**20),
            "glimmr_vm_hwm_mb": round(max(r.vm_hwm_bytes or 0 for r in runs["glimmr"]) / 2**20),
            "rows_written": runs["glimmr"][0].rows,
            "time_ok": ok_time,
            "memory_ok": ok_memory,
        }
        for extra in bench.extra_baselines:
            line[f"ratio_vs_{extra}"] = round(median["glimmr"] / median[extra], 2)
        rows.append(line)
        print(
            f"  baseline {median[bench.baseline]:.2f} s, {peak[bench.baseline] / 2**20:.0f} MB | "
            f"glimmr {median['glimmr']:.2f} s, {peak['glimmr'] / 2**20:.0f} MB | "
            f"ratio {ratio:.3f} (target ≤ {bench.max_ratio}) {'ok' if ok_time else 'MISSED'} | "
            f"cpu {cpu[bench.baseline]:.1f} vs {cpu['glimmr']:.1f} s | "
            f"peak {'ok' if ok_memory else 'MISSED'} (target ≤ {bench.max_peak_bytes / 2**20:.0f} MB)"
            + "".join(f" | vs {e}: {line[f'ratio_vs_{e}']:.2f}" for e in bench.extra_baselines),
            flush=True,
        )
    print(json.dumps(rows, indent=1))
    return 0 if all(r["time_ok"] and r["memory_ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
