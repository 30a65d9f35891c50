"""`python -m shoal`: the CLI through the interpreter, for environments
whose scripts directory is not on PATH."""

import importlib.metadata
import os
import re
import subprocess
import sys

import pytest

import shoal.__main__ as cli_module


def test_python_m_shoal_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "shoal", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"shoal {importlib.metadata.version('shoal')}"
    usage = subprocess.run([sys.executable, "-m", "shoal", "frobnicate"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2  # the CLI's own exit status, not Python's


def test_python_m_shoal_without_the_executable_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli_module.sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setattr(cli_module.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(os, "execv", lambda *args: pytest.fail("nothing to exec"))
    assert cli_module.main() == 1
    message = capsys.readouterr().err
    assert re.search(r"shoal: the shoal executable was not found .* and on PATH", message), message
