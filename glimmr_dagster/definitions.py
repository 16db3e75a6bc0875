"""The one place where the project's Dagster definitions are assembled."""

import dagster as dg

from .defs.resources import build_resources
from .defs.roster.assets import hospital_roster
from .defs.roster.jobs import pra_scan_job
from .lib.settings import Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[hospital_roster],
        jobs=[pra_scan_job],
        resources=build_resources(settings),
    )


defs = build_definitions(load_settings())
