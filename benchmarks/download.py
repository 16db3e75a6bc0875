"""Downloading one multi-GB price file from the sandbox on loopback.

Baseline: `curl -o` of the same URL, in the same run, into the same filesystem. Targets:
throughput at least 0.8x curl's; memory growth of the downloading process at most 64 MB over
its start, the same at 0.5, 2 and 4 GB. The sandbox runs in its own process, and its own
serving rate (`curl -o /dev/null`) is printed so that a slow server is not mistaken for a slow
client.

Our side is `Downloader.fetch` in a fresh process: stream, SHA-256 while writing, fsync, atomic
rename into `raw/<sha[:2]>/<sha>.csv`. curl does not hash and does not fsync. Throughput rounds
alternate curl and ours and report medians, because disk write speed on shared machines drifts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from .common import free_port, heading, row

GiB = 1024**3
MB = 10**6
THROUGHPUT_TARGET = 0.8
MEMORY_TARGET_MB = 64.0


def _rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak so far) of this process, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(url: str, root: str) -> int:
    """One download in this process; prints timings and memory as JSON."""
    from glimmr_dagster.lib.acquire import Downloader, DownloadSettings, FileRequest, LocalRawStore

    # The project's defaults (HEAD probe included); only loopback has to be allowed.
    settings = DownloadSettings(allowed_hosts=frozenset({"127.0.0.1"}))
    with Downloader(settings, LocalRawStore(root)) as downloader:
        start_mb = _rss_mb("VmRSS")
        began = time.perf_counter()
        outcome = downloader.fetch(FileRequest(url=url))
        seconds = time.perf_counter() - began
    print(json.dumps({
        "status": outcome.status, "error": outcome.error, "bytes": outcome.size, "sha256": outcome.sha256,
        "seconds": seconds, "start_mb": start_mb, "peak_mb": _rss_mb("VmHWM"),
    }), flush=True)
    return 0 if outcome.status == "downloaded" else 1


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _ours(url: str, work: Path) -> dict:
    root = work / "raw"
    cpu = _children_cpu()
    answer = subprocess.run([sys.executable, "-m", "benchmarks.download", "--child", url, str(root)],
                            capture_output=True, text=True, check=False)
    shutil.rmtree(root, ignore_errors=True)
    if answer.returncode != 0:
        raise RuntimeError(f"the download failed: {answer.stdout.strip()} {answer.stderr.strip()[-2000:]}")
    return {**json.loads(answer.stdout.strip().splitlines()[-1]), "cpu": _children_cpu() - cpu}


def _curl(url: str, target: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one `curl -o`."""
    cpu = _children_cpu()
    began = time.perf_counter()
    subprocess.run(["curl", "--silent", "--show-error", "--fail", "-o", target, url], check=True)
    return time.perf_counter() - began, _children_cpu() - cpu


def _settle() -> None:
    """Let the previous run's dirty pages reach the disk before timing the next."""
    os.sync()
    time.sleep(1.0)


def _large_file(base_url: str, size: int) -> str:
    answer = httpx.post(f"{base_url}/_sandbox/large-file", json={"size": size}, timeout=60)
    answer.raise_for_status()
    return answer.json()["url"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs=2, metavar=("URL", "ROOT"), help=argparse.SUPPRESS)
    parser.add_argument("--throughput-gb", type=float, default=2.0, help="size of the timed download (GiB)")
    parser.add_argument("--memory-gb", type=float, nargs="*", default=[0.5, 2.0, 4.0],
                        help="sizes whose memory growth is measured (GiB)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating curl/ours rounds (the median is reported)")
    parser.add_argument("--work-dir", default=None, help="where files land (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    if shutil.which("curl") is None:
        print("curl is not installed; the download benchmark needs it as its baseline")
        return 1

    from glimmr_dagster.commands.sandbox_process import SandboxProcess

    heading(f"Download of one {args.throughput_gb:g} GiB file from the sandbox on loopback, against curl -o")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="glimmr-bench-download-", dir=args.work_dir) as work_dir:
        work = Path(work_dir)
        sandbox = SandboxProcess(free_port(), hospitals=8, log_file=work / "sandbox.log")
        sandbox.start()
        try:
            sizes = {size: _large_file(sandbox.url, int(size * GiB))
                     for size in sorted({args.throughput_gb, *args.memory_gb})}
            url = sizes[args.throughput_gb]
            size = int(args.throughput_gb * GiB)

            load_before = os.getloadavg()[0]
            serving = min(_curl(url, "/dev/null")[0] for _ in range(2))
            curl_seconds, our_seconds, curl_cpu, our_cpu, peaks = [], [], [], [], {}
            for round_number in range(args.rounds):
                _settle()
                target = work / "curl.out"
                seconds, cpu = _curl(url, str(target))
                curl_seconds.append(seconds)
                curl_cpu.append(cpu)
                if round_number == 0:
                    with open(target, "rb") as stream:
                        curl_sha = hashlib.file_digest(stream, "sha256").hexdigest()
                target.unlink()
                _settle()
                result = _ours(url, work)
                our_seconds.append(result["seconds"])
                our_cpu.append(result["cpu"])
                peaks[args.throughput_gb] = max(peaks.get(args.throughput_gb, 0.0),
                                                result["peak_mb"] - result["start_mb"])
                if result["sha256"] != curl_sha or result["bytes"] != size:
                    print(f"  MISMATCH: ours {result['sha256']} ({result['bytes']} bytes), curl {curl_sha}")
                    failures += 1
            for memory_size in args.memory_gb:
                if memory_size in peaks:
                    continue
                _settle()
                result = _ours(sizes[memory_size], work)
                peaks[memory_size] = result["peak_mb"] - result["start_mb"]
        finally:
            sandbox.stop()

    curl_median, our_median = statistics.median(curl_seconds), statistics.median(our_seconds)
    ratio = curl_median / our_median
    rate = lambda seconds: f"{size / seconds / MB:,.0f} MB/s"  # noqa: E731
    row("machine load (1-min average) at start", f"{load_before:.2f} on {os.cpu_count()} CPUs")
    row("sandbox serving rate (curl -o /dev/null)", rate(serving))
    verdict = lambda met: "met" if met else "MISSED"  # noqa: E731
    row("curl -o (median of rounds)", f"{rate(curl_median)}  rounds: {', '.join(map(rate, curl_seconds))}")
    row("glimmr Downloader (median of rounds)", f"{rate(our_median)}  rounds: {', '.join(map(rate, our_seconds))}")
    row("ratio to curl", f"{ratio:.2f} (target >= {THROUGHPUT_TARGET}: {verdict(ratio >= THROUGHPUT_TARGET)})")
    row("CPU seconds per GiB: curl, ours", f"{statistics.median(curl_cpu) / args.throughput_gb:.2f}, "
        f"{statistics.median(our_cpu) / args.throughput_gb:.2f} (ours also hashes, and its process starts up)")
    row("same bytes as curl", "yes" if not failures else "NO")
    worst = max(peaks.values())
    for memory_size in sorted(peaks):
        row(f"memory growth at {memory_size:g} GiB", f"{peaks[memory_size]:.1f} MB")
    row("memory target", f"<= {MEMORY_TARGET_MB:.0f} MB at every size: {verdict(worst <= MEMORY_TARGET_MB)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
