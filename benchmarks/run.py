"""`make bench`: every benchmark in the project, each against its baseline in the same run."""

from __future__ import annotations

import importlib
import sys

# Each entry is a module with main(argv) -> int. Later benchmarks register here.
BENCHMARKS = [
    "benchmarks.roster_scan",
    "benchmarks.sensor_tick",
    "benchmarks.download",
    "benchmarks.parsing.run",
]


def main(argv: list[str] | None = None) -> int:
    selected = argv if argv else BENCHMARKS
    failures = 0
    for name in selected:
        module = importlib.import_module(name if name.startswith("benchmarks.") else f"benchmarks.{name}")
        failures += module.main([]) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
