"""Dagster-facing wiring, one package per domain. Assembled in `glimmr_dagster.definitions`."""
