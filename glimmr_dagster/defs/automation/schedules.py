"""Schedules, on by default: PRA scans twice a day, a weekly forced refresh, daily cleanup."""

import dagster as dg

from ...lib.settings import AutomationSettings, Settings
from ..roster.jobs import pra_scan_job
from ..tags import STATE_TAG, TRIGGER_TAG
from .jobs import cleanup_job, full_refresh_job


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    automation: AutomationSettings = settings.automation
    states = settings.scan_states

    @dg.schedule(
        job=pra_scan_job,
        cron_schedule=automation.scan_cron,
        execution_timezone=automation.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Scan the PRA index: {len(states)} state runs per tick.",
    )
    def pra_scan_schedule(context: dg.ScheduleEvaluationContext):
        when = context.scheduled_execution_time.isoformat()
        return [
            dg.RunRequest(
                run_key=f"{state}:{when}",
                partition_key=state,
                tags={STATE_TAG: state, TRIGGER_TAG: "schedule"},
            )
            for state in states
        ]

    full_refresh_schedule = dg.ScheduleDefinition(
        name="full_refresh_schedule",
        job=full_refresh_job,
        cron_schedule=automation.full_refresh_cron,
        execution_timezone=automation.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Re-fetch every hospital's files with the force tag, one backfill per state.",
    )
    cleanup_schedule = dg.ScheduleDefinition(
        name="cleanup_schedule",
        job=cleanup_job,
        cron_schedule=automation.cleanup_cron,
        execution_timezone=automation.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Delete old runs (never one holding a latest materialization) and stale temp files.",
    )
    return [pra_scan_schedule, full_refresh_schedule, cleanup_schedule]
