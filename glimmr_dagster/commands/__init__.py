"""Operator commands behind `glimmr`: instance setup, scans, the demo."""
