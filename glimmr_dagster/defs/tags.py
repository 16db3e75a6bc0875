"""Run tags the project sets and reads. Backfills carry tags, not run config, so flags live here."""

STATE_TAG = "glimmr/state"
TRIGGER_TAG = "glimmr/trigger"
ATTEMPT_TAG = "glimmr/attempt"
# "true" re-fetches every file of the hospital, changed or not (weekly refresh, --force).
FORCE_TAG = "glimmr/force"
# "true" parses the hospital's files again even when the current parser already did.
REPARSE_TAG = "glimmr/reparse"


def is_forced(tags: dict[str, str]) -> bool:
    return tags.get(FORCE_TAG, "").lower() == "true"
