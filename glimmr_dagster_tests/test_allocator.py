"""The package keeps polars' freed memory longer (see glimmr_dagster/__init__.py): checked in fresh
interpreters, since the setting only takes effect before polars is first imported."""

import os
import subprocess
import sys

PROBE = "import glimmr_dagster.lib.parsing, os; print(os.environ['_RJEM_MALLOC_CONF'])"


def _allocator_conf(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_parsing_processes_keep_freed_pages_for_five_seconds():
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    conf = _allocator_conf(env)
    # polars puts its own defaults first; jemalloc takes the last value of each option.
    assert conf.split(",")[-1] == "dirty_decay_ms:5000", conf
    assert "dirty_decay_ms:500," in conf  # polars' default is still there, overridden


def test_a_users_allocator_setting_is_left_alone():
    env = {**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:250"}
    conf = _allocator_conf(env)
    assert conf.split(",")[-1] == "dirty_decay_ms:250", conf
    assert "dirty_decay_ms:5000" not in conf
