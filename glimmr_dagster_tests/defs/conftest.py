import dagster as dg
import pytest

from glimmr_dagster.definitions import build_definitions
from glimmr_dagster.lib.catalog import Catalog
from glimmr_dagster.lib.settings import load_settings


@pytest.fixture
def instance(data_env):
    """A test instance set up as the project's own setup sets one up (pool limits included)."""
    from glimmr_dagster.commands.instance_setup import apply_pool_limits

    with dg.instance_for_test() as test_instance:
        apply_pool_limits(test_instance)
        yield test_instance


@pytest.fixture
def defs(data_env):
    return build_definitions(load_settings())


@pytest.fixture
def env_catalog(data_env):
    """The catalog the definitions use for this test's data directory."""
    store = Catalog(load_settings().catalog_url)
    yield store
    store.dispose()
