"""Resources: the catalog database and the PRA index client, configured from the environment."""

from __future__ import annotations

import os
from functools import lru_cache

import dagster as dg

from ..lib.catalog import Catalog
from ..lib.pra.client import PraClient
from ..lib.ratelimit import NoLimit, SharedRateLimiter
from ..lib.settings import PraSettings, RateLimit, Settings, load_settings


@lru_cache(maxsize=8)
def _open_catalog(url: str) -> Catalog:
    # One engine (and connection pool) per process and URL, shared by every asset in a run.
    return Catalog(url)


class CatalogResource(dg.ConfigurableResource):
    """The catalog database (SQLite file by default, PostgreSQL by URL)."""

    url: str

    def get_catalog(self) -> Catalog:
        return _open_catalog(self.url)


class PraIndexResource(dg.ConfigurableResource):
    """The PRA hospital-file index: base URLs, session scheme and the shared rate limit."""

    api_url: str
    storage_url: str
    web_url: str
    session_scheme: str = "auto"
    static_session_id: str = ""
    rate_limit: str = "100/180"
    max_attempts: int = 6

    def settings(self) -> PraSettings:
        return PraSettings(
            api_url=self.api_url.rstrip("/"),
            storage_url=self.storage_url.rstrip("/"),
            web_url=self.web_url.rstrip("/"),
            session_scheme=self.session_scheme,
            static_session_id=self.static_session_id,
            rate_limit=RateLimit.parse(self.rate_limit),
            max_attempts=self.max_attempts,
        )

    def get_client(self, catalog: Catalog) -> PraClient:
        settings = self.settings()
        limiter = (
            SharedRateLimiter(catalog, f"pra-api:{settings.api_url}", settings.rate_limit)
            if settings.rate_limit.enabled
            else NoLimit()
        )
        return PraClient(settings, limiter=limiter)


def s3_resource_from_environment():
    """dagster-aws's S3 client settings for the raw store and the lake (MinIO, Spaces, AWS)."""
    from dagster_aws.s3 import S3Resource

    endpoint = os.environ.get("GLIMMR_S3_ENDPOINT_URL")
    region = os.environ.get("GLIMMR_S3_REGION")
    return S3Resource(endpoint_url=endpoint, region_name=region) if endpoint or region else S3Resource()


def catalog_from_context(context: dg.SensorEvaluationContext) -> Catalog:
    """The catalog configured in the code location's resources.

    Sensors read it through the repository rather than a resource parameter so that calling a
    sensor directly with `build_sensor_context(instance=..., definitions=defs)` works as in the
    daemon; without a repository (a bare context) the environment's catalog is used.
    """
    repository = context.repository_def
    resource = repository.get_top_level_resources().get("catalog") if repository is not None else None
    if isinstance(resource, CatalogResource):
        return resource.get_catalog()
    return _open_catalog(load_settings().catalog_url)


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    from .acquisition.resources import build_raw_store_resource
    from .prices.resources import build_lake_resource

    pra = settings.pra
    return {
        "raw_store": build_raw_store_resource(settings.data_dir),
        "lake": build_lake_resource(settings.data_dir),
        # A PostgreSQL URL can carry a password: pass it by reference when it comes from the env.
        "catalog": CatalogResource(
            url=dg.EnvVar("GLIMMR_CATALOG_URL")
            if os.environ.get("GLIMMR_CATALOG_URL")
            else settings.catalog_url
        ),
        "pra_index": PraIndexResource(
            api_url=pra.api_url,
            storage_url=pra.storage_url,
            web_url=pra.web_url,
            session_scheme=pra.session_scheme,
            # A secret: passed by reference so the UI shows the variable's name, not its value.
            static_session_id=dg.EnvVar("GLIMMR_PRA_SESSION_ID")
            if os.environ.get("GLIMMR_PRA_SESSION_ID")
            else "",
            rate_limit=str(pra.rate_limit),
            max_attempts=pra.max_attempts,
        ),
    }
