"""The README documents what users rely on; these checks keep it in step with the code."""

import re
from pathlib import Path

from glimmr_dagster.lib.parsing import PRICE_TABLE_SCHEMA, SCHEMA_VERSION

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_table_column_is_documented_with_its_type():
    documented = dict(re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", README, flags=re.MULTILINE))
    for field in PRICE_TABLE_SCHEMA:
        assert field.name in documented, f"README does not document column {field.name}"
    assert f"Schema version {SCHEMA_VERSION}" in README


def test_every_environment_variable_the_code_reads_is_in_the_configuration_table():
    package = Path(__file__).resolve().parents[1] / "glimmr_dagster"
    names = set()
    for path in package.rglob("*.py"):
        if "sandbox" in path.parts:
            continue  # the sandbox's own options are documented in its README
        names.update(re.findall(r"\"(GLIMMR_[A-Z0-9_]+)\"", path.read_text()))
    missing = sorted(name for name in names if f"`{name}`" not in README)
    assert missing == []


def test_the_two_setup_commands_are_given():
    assert "make demo" in README and "make test" in README
