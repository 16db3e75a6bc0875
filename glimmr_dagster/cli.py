"""The `glimmr` command: set-up, the sandbox, scans, the demo and the UI."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .lib.settings import DEFAULT_SANDBOX_PORT, load_settings


def _cmd_init(args: argparse.Namespace) -> int:
    from .commands.instance_setup import prepare

    setup = prepare(load_settings())
    print(f"GLIMMR_DATA_DIR={setup.data_dir}")
    print(f"DAGSTER_HOME={setup.dagster_home}")
    print(f"catalog: {setup.catalog_url}")
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox import cli as sandbox_cli

    return sandbox_cli.run(args)


def _cmd_scan(args: argparse.Namespace) -> int:
    import dagster as dg

    from .commands.instance_setup import prepare
    from .commands.runs import run_state_scans
    from .definitions import build_definitions

    settings = load_settings()
    setup = prepare(settings)
    os.environ["DAGSTER_HOME"] = str(setup.dagster_home)
    states = [state.upper() for state in args.state] if args.state else list(settings.scan_states)
    with dg.DagsterInstance.get() as instance:
        runs = run_state_scans(build_definitions(settings), instance, states, trigger="cli", quiet=True)
    for run in runs:
        outcome = "ok" if run.success else f"FAILED: {run.error}"
        roster = run.metadata.get("hospital_roster", {})
        counts = ", ".join(
            f"{name} {roster[name]}"
            for name in ("hospitals", "new", "changed", "removed", "unchanged", "skipped")
            if name in roster
        )
        print(f"{run.partition_key}: {outcome} {counts} ({run.seconds:.2f} s, run {run.run_id})")
    return 0 if all(run.success for run in runs) else 1


def _launch_backfills(plans, *, assets: list[str]) -> int:
    """Record backfills on the instance in DAGSTER_HOME; `plans` yields (label, keys, tags, title)."""
    import dagster as dg

    from .commands.instance_setup import prepare
    from .defs.automation.backfills import launch_hospital_backfill
    from .definitions import build_definitions
    from .lib.catalog import Catalog

    settings = load_settings()
    setup = prepare(settings)
    os.environ.setdefault("DAGSTER_HOME", str(setup.dagster_home))
    asset_graph = build_definitions(settings).resolve_asset_graph()
    catalog = Catalog(settings.catalog_url)
    exit_code = 0
    try:
        with dg.DagsterInstance.get() as instance:
            for label, keys, tags, title in plans(catalog):
                try:
                    backfill_id, count = launch_hospital_backfill(
                        instance, asset_graph, keys, asset_names=assets, tags=tags, title=title
                    )
                except ValueError as exc:
                    print(f"{label}: {exc}", file=sys.stderr)
                    exit_code = 2
                    continue
                if backfill_id is None:
                    hint = f"scan the state first (glimmr scan --state {label})" if len(label) == 2 else "scan first"
                    print(f"{label}: no open hospitals in the catalog; {hint}")
                    exit_code = exit_code or 1
                else:
                    print(f"{label}: backfill {backfill_id} of {count} hospitals ({title.format(count=count)}): "
                          f"{', '.join(assets)}")
    finally:
        catalog.dispose()
    return exit_code


def _cmd_backfill(args: argparse.Namespace) -> int:
    from .defs.automation.backfills import DEFAULT_HOSPITAL_ASSETS, open_hospital_keys
    from .defs.tags import FORCE_TAG, STATE_TAG, TRIGGER_TAG

    assets = [name.strip() for name in (args.assets or ",".join(DEFAULT_HOSPITAL_ASSETS)).split(",") if name.strip()]

    def plans(catalog):
        for state in (code.upper() for code in args.state):
            tags = {STATE_TAG: state, TRIGGER_TAG: "cli_backfill", **({FORCE_TAG: "true"} if args.force else {})}
            yield state, open_hospital_keys(catalog, state), tags, f"{state}: {{count}} hospitals" + (
                " (forced)" if args.force else "")

    return _launch_backfills(plans, assets=assets)


def _cmd_reparse(args: argparse.Namespace) -> int:
    from .defs.automation.backfills import open_hospital_keys
    from .defs.tags import REPARSE_TAG, STATE_TAG, TRIGGER_TAG

    extra = {REPARSE_TAG: "true"} if args.force else {}
    how = "every file" if args.force else "files not parsed by the current parser"

    def plans(catalog):
        if args.hospital:
            yield "hospitals", list(args.hospital), {TRIGGER_TAG: "reparse", **extra}, f"reparse {{count}} hospitals: {how}"
            return
        for state in (code.upper() for code in (args.state or load_settings().scan_states)):
            keys = open_hospital_keys(catalog, state)
            if keys or args.state:
                yield state, keys, {STATE_TAG: state, TRIGGER_TAG: "reparse", **extra}, f"reparse {state}: {how}"

    return _launch_backfills(plans, assets=["hospital_standard_charges"])


def _cmd_demo(args: argparse.Namespace) -> int:
    from .commands.demo import run_demo

    return run_demo(
        port=args.port, hospitals=args.hospitals, seed=args.seed, publish_fraction=args.publish_fraction
    )


def _cmd_dev(args: argparse.Namespace) -> int:
    from .commands.demo import sandbox_environment
    from .commands.instance_setup import prepare
    from .commands.sandbox_process import SandboxProcess

    settings = load_settings()
    setup = prepare(settings)
    env = os.environ.copy()
    env["DAGSTER_HOME"] = str(setup.dagster_home)
    # Resolved once: the webserver and daemon run from DAGSTER_HOME (see below).
    env["GLIMMR_DATA_DIR"] = str(setup.data_dir)
    sandbox = None
    if not os.environ.get("GLIMMR_PRA_API_URL"):
        # No index configured: serve the demo's sandbox so UI-launched scans work offline.
        sandbox = SandboxProcess(
            args.sandbox_port,
            state_file=settings.data_dir / "sandbox" / "scenario.jsonl",
            log_file=settings.data_dir / "sandbox" / "sandbox.log",
        ).start()
        env.update(sandbox_environment(sandbox.url))
        print(f"PRA sandbox at {sandbox.url}")
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    # The dagster command of this environment, whether or not the venv is on PATH.
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster) if dagster.exists() else "dagster", "dev", "-w", str(workspace), "--port", str(args.port)]
    try:
        # From DAGSTER_HOME, so Dagster does not warn about the project's own dagster.yaml in the
        # working directory (the instance reads the copy `glimmr init` wrote there).
        return subprocess.call(command, env=env, cwd=setup.dagster_home)
    except KeyboardInterrupt:
        return 0
    finally:
        if sandbox is not None:
            sandbox.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glimmr", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="create the data directory and DAGSTER_HOME, migrate the catalog")
    init.set_defaults(handler=_cmd_init)

    from .sandbox import cli as sandbox_cli

    sandbox = commands.add_parser("sandbox", help="serve the local PRA-compatible index and hospital files")
    sandbox_cli.add_arguments(sandbox)
    sandbox.set_defaults(handler=_cmd_sandbox)

    scan = commands.add_parser("scan", help="scan the PRA index for states, one Dagster run per state")
    scan.add_argument("--state", action="append", help="a state code; repeat for several (default: all)")
    scan.set_defaults(handler=_cmd_scan)

    backfill = commands.add_parser(
        "backfill", help="launch a backfill of a state's hospital partitions on the instance in DAGSTER_HOME"
    )
    backfill.add_argument("--state", action="append", required=True, help="a state code; repeat for several")
    backfill.add_argument("--assets", help="comma-separated hospital assets (default: hospital_price_files)")
    backfill.add_argument("--force", action="store_true", help="re-fetch every file, changed or not")
    backfill.set_defaults(handler=_cmd_backfill)

    reparse = commands.add_parser(
        "reparse", help="launch backfills that parse hospitals' current files again (after a parser upgrade)"
    )
    reparse.add_argument("--state", action="append", help="a state code; repeat for several (default: all)")
    reparse.add_argument("--hospital", action="append", help="a hospital key such as CA-<id>; repeat for several")
    reparse.add_argument("--force", action="store_true", help="parse even files the current parser already parsed")
    reparse.set_defaults(handler=_cmd_reparse)

    demo = commands.add_parser("demo", help="run the pipeline against the bundled sandbox and summarize")
    demo.add_argument("--port", type=int, default=DEFAULT_SANDBOX_PORT)
    demo.add_argument("--hospitals", type=int, default=None, help="sandbox size (default: its own)")
    demo.add_argument("--seed", type=int, default=None)
    demo.add_argument(
        "--publish-fraction", type=float, default=0.1,
        help="on a rerun, republish this share of the sandbox's files first (0 to skip)",
    )
    demo.set_defaults(handler=_cmd_demo)

    dev = commands.add_parser("dev", help="open the Dagster UI on the project's instance and data")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--sandbox-port", type=int, default=DEFAULT_SANDBOX_PORT)
    dev.set_defaults(handler=_cmd_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
