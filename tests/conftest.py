import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="session")
def engine():
    from phantom_report.engine.api import Engine

    return Engine.load()


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real `phantom-report` entry point in a fresh process."""
    full_env = {**os.environ, "PHANTOM_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "phantom_report", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@pytest.fixture
def cli():
    return run_cli
