"""Pricing tests (a package so the tests can share constants from conftest)."""
