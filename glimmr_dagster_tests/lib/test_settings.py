from pathlib import Path

import pytest

from glimmr_dagster.lib.settings import RateLimit, load_settings
from glimmr_dagster.lib.states import STATE_CODES


def test_rate_limit_parsing():
    assert RateLimit.parse("100/180") == RateLimit(100, 180.0)
    assert RateLimit.parse("5") == RateLimit(5, 1.0)
    assert not RateLimit.parse("off").enabled
    assert not RateLimit.parse("0").enabled
    with pytest.raises(ValueError, match="not of the form"):
        RateLimit.parse("fast")


def test_data_dir_is_resolved_once_to_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"GLIMMR_DATA_DIR": "relative/data"})
    assert settings.data_dir == (tmp_path / "relative" / "data").resolve()
    assert settings.catalog_url == f"sqlite:///{settings.data_dir / 'catalog.sqlite'}"
    assert Path(settings.data_dir).is_absolute()


def test_defaults_point_at_the_real_index():
    settings = load_settings({})
    assert settings.pra.api_url == "https://pts.patientrightsadvocatefiles.org"
    assert settings.pra.storage_url == "https://storage.patientrightsadvocatefiles.org"
    assert settings.pra.rate_limit == RateLimit(100, 180.0)
    assert settings.scan_states == STATE_CODES and len(STATE_CODES) == 51


def test_test_mode_limits_scans_to_three_states():
    assert load_settings({"GLIMMR_TEST_MODE": "1"}).scan_states == ("CA", "FL", "TX")
    assert load_settings({"GLIMMR_TEST_MODE": "false"}).scan_states == STATE_CODES
