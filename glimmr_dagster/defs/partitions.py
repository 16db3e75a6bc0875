"""The two partition axes: states (static, 51) and hospitals (dynamic, added by the roster)."""

import dagster as dg

from ..lib.states import STATE_CODES

state_partitions = dg.StaticPartitionsDefinition(list(STATE_CODES))

# Keys are "{STATE}-{PRA facility id}", added by hospital_roster sorted within each state.
HOSPITAL_PARTITIONS_NAME = "hospitals"
hospital_partitions = dg.DynamicPartitionsDefinition(name=HOSPITAL_PARTITIONS_NAME)
