"""Tests of fltheory.bounds (a package so that its conftest does not clash with tests/conftest.py)."""
