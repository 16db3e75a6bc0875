"""The sandbox state file: a replayable log of scenario operations.

The world itself is a pure function of (seed, hospital count, failing files on or off);
everything that happened to it afterwards (publishes, with the format chosen if any, added or
removed facilities, large files, moved URLs) is appended here as one JSON object per line, fully
resolved (e.g. a "publish 10%" is stored as the list of fileids it chose and the time it used).
Replaying the log on top of the seed rebuilds the same world, so a restarted sandbox shows files
as unchanged unless something was published in between.

Faults are not logged: they are test weather, not part of the world.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

STATE_FILE_FORMAT = 1


class StateFileMismatch(ValueError):
    """The state file was written for a different seed or hospital count."""


class ScenarioLog:
    def __init__(self, path: Path, ops: list[dict[str, Any]]):
        self.path = path
        self.replayed_ops = ops
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, seed: int, hospitals: int,
             failing_files: bool = False) -> "ScenarioLog":
        """Open (or create) the log and return it with the operations to replay."""
        path = Path(path)
        header = {"op": "world", "format": STATE_FILE_FORMAT, "seed": seed, "hospitals": hospitals,
                  "failing_files": failing_files}
        if not path.exists() or path.stat().st_size == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as handle:
                handle.write(json.dumps(header) + "\n")
            return cls(path, [])
        ops: list[dict[str, Any]] = []
        with path.open("r", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        first = json.loads(lines[0])
        if first.get("op") != "world":
            raise StateFileMismatch(f"{path} is not a sandbox state file")
        # Files written before failing files existed have no such key: their worlds had none.
        written_failing = bool(first.get("failing_files", False))
        if first.get("seed") != seed or first.get("hospitals") != hospitals or written_failing != failing_files:
            raise StateFileMismatch(
                f"{path} was written for seed={first.get('seed')} hospitals={first.get('hospitals')} "
                f"failing_files={written_failing}, not seed={seed} hospitals={hospitals} "
                f"failing_files={failing_files}; start with those values or delete the file"
            )
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                ops.append(json.loads(line))
            except json.JSONDecodeError:
                if number != len(lines):
                    raise StateFileMismatch(f"{path}:{number} is not valid JSON") from None
                # A last line cut short by a crash mid-write: drop it so later appends stay readable.
                with path.open("w", encoding="utf-8") as handle:
                    handle.write("".join(good + "\n" for good in lines[: number - 1]))
        return cls(path, ops)

    def append(self, op: dict[str, Any]) -> None:
        line = json.dumps(op, sort_keys=True) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
