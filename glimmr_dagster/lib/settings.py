"""Configuration read from the environment, in one place.

Every environment variable the project reads is named here and documented in the README's
configuration table. Paths are resolved once to absolute paths so that `dagster dev`, run
workers started from another directory, and the CLI all agree on one data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .states import STATE_CODES, TEST_MODE_STATES

REAL_PRA_API_URL = "https://pts.patientrightsadvocatefiles.org"
REAL_PRA_STORAGE_URL = "https://storage.patientrightsadvocatefiles.org"
REAL_PRA_WEB_URL = "https://hospitalpricingfiles.org"

# Public clients of the index keep to about 100 requests per 180 s.
DEFAULT_PRA_RATE_LIMIT = "100/180"

# The bundled sandbox listens here unless told otherwise, so file URLs stay the same from one
# demo to the next.
DEFAULT_SANDBOX_PORT = 8765

_TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str, default: bool = False, environ: dict[str, str] | None = None) -> bool:
    value = (environ if environ is not None else os.environ).get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in _TRUE


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` calls in any window of `seconds`; `requests == 0` means unlimited."""

    requests: int
    seconds: float

    @property
    def enabled(self) -> bool:
        return self.requests > 0 and self.seconds > 0

    @classmethod
    def parse(cls, text: str) -> "RateLimit":
        """Parse `"100/180"` (requests per seconds); `"off"`, `"0"` or `""` disable the limit."""
        text = text.strip().lower()
        if text in {"", "0", "off", "none", "unlimited"}:
            return cls(0, 0.0)
        requests, sep, seconds = text.partition("/")
        try:
            parsed = cls(int(requests), float(seconds) if sep else 1.0)
        except ValueError:
            raise ValueError(
                f"rate limit {text!r} is not of the form <requests>/<seconds>, e.g. 100/180, or 'off'"
            ) from None
        if parsed.requests < 0 or parsed.seconds <= 0:
            raise ValueError(f"rate limit {text!r} must have requests >= 0 and seconds > 0")
        return parsed

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}" if self.enabled else "off"


@dataclass(frozen=True)
class PraSettings:
    api_url: str = REAL_PRA_API_URL
    storage_url: str = REAL_PRA_STORAGE_URL
    web_url: str = REAL_PRA_WEB_URL
    # auto | validate | user_session | static | none
    session_scheme: str = "auto"
    static_session_id: str = ""
    rate_limit: RateLimit = field(default_factory=lambda: RateLimit.parse(DEFAULT_PRA_RATE_LIMIT))
    max_attempts: int = 6
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class AutomationSettings:
    """When scheduled work runs, how much the change sensor asks for, how long runs are kept."""

    timezone: str = "America/New_York"
    scan_cron: str = "0 6,18 * * *"
    full_refresh_cron: str = "0 1 * * 0"
    cleanup_cron: str = "0 3 * * *"
    # Dagster evaluates a tick in under 60 s; a few hundred requests keep it to a few seconds.
    sensor_max_requests: int = 300
    run_retention_days: int = 30
    failed_run_retention_days: int = 90
    temp_file_retention_hours: int = 24


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    catalog_url: str
    pra: PraSettings
    test_mode: bool
    automation: AutomationSettings = field(default_factory=AutomationSettings)

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.data_dir / "dagster_home").resolve()

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def scan_states(self) -> tuple[str, ...]:
        """The states a full PRA scan covers: all 51, or CA, FL and TX in test mode."""
        return TEST_MODE_STATES if self.test_mode else STATE_CODES


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the configuration from the environment (or from `environ`, for tests)."""
    env = environ if environ is not None else os.environ
    data_dir = Path(env.get("GLIMMR_DATA_DIR") or "data").expanduser().resolve()
    catalog_url = env.get("GLIMMR_CATALOG_URL") or f"sqlite:///{data_dir / 'catalog.sqlite'}"
    pra = PraSettings(
        api_url=(env.get("GLIMMR_PRA_API_URL") or REAL_PRA_API_URL).rstrip("/"),
        storage_url=(env.get("GLIMMR_PRA_STORAGE_URL") or REAL_PRA_STORAGE_URL).rstrip("/"),
        web_url=(env.get("GLIMMR_PRA_WEB_URL") or REAL_PRA_WEB_URL).rstrip("/"),
        session_scheme=(env.get("GLIMMR_PRA_SESSION_SCHEME") or "auto").strip().lower(),
        static_session_id=env.get("GLIMMR_PRA_SESSION_ID", ""),
        rate_limit=RateLimit.parse(env.get("GLIMMR_PRA_RATE_LIMIT", DEFAULT_PRA_RATE_LIMIT)),
        max_attempts=int(env.get("GLIMMR_PRA_MAX_ATTEMPTS") or 6),
    )
    defaults = AutomationSettings()
    automation = AutomationSettings(
        timezone=env.get("GLIMMR_SCHEDULE_TIMEZONE") or defaults.timezone,
        scan_cron=env.get("GLIMMR_SCAN_CRON") or defaults.scan_cron,
        full_refresh_cron=env.get("GLIMMR_FULL_REFRESH_CRON") or defaults.full_refresh_cron,
        cleanup_cron=env.get("GLIMMR_CLEANUP_CRON") or defaults.cleanup_cron,
        sensor_max_requests=int(env.get("GLIMMR_SENSOR_MAX_REQUESTS") or defaults.sensor_max_requests),
        run_retention_days=int(env.get("GLIMMR_RUN_RETENTION_DAYS") or defaults.run_retention_days),
        failed_run_retention_days=int(
            env.get("GLIMMR_FAILED_RUN_RETENTION_DAYS") or defaults.failed_run_retention_days
        ),
    )
    return Settings(
        data_dir=data_dir,
        catalog_url=catalog_url,
        pra=pra,
        test_mode=env_flag("GLIMMR_TEST_MODE", environ=dict(env)),
        automation=automation,
    )
