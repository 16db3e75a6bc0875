"""The one place where the project's Dagster definitions are assembled."""

import dagster as dg

from .defs.acquisition.assets import hospital_price_files
from .defs.prices.assets import hospital_standard_charges
from .defs.automation.jobs import cleanup_job, full_refresh_job, hospital_files_job
from .defs.automation.schedules import build_schedules
from .defs.automation.sensors import pra_file_change_sensor
from .defs.resources import build_resources
from .defs.roster.assets import hospital_roster
from .defs.roster.jobs import pra_scan_job
from .lib.settings import Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[hospital_roster, hospital_price_files, hospital_standard_charges],
        jobs=[pra_scan_job, hospital_files_job, full_refresh_job, cleanup_job],
        schedules=build_schedules(settings),
        sensors=[pra_file_change_sensor],
        resources=build_resources(settings),
    )


defs = build_definitions(load_settings())
