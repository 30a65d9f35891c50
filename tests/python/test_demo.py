"""The README's demo must keep working: run it small and check what it prints."""

import pathlib
import subprocess
import sys

DEMO = pathlib.Path(__file__).resolve().parents[2] / "examples" / "subinterpreters_demo.py"


def test_the_subinterpreter_demo_runs_and_checks_its_sums():
    result = subprocess.run([sys.executable, str(DEMO), "--mib", "8", "--workers", "2"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "2 isolated subinterpreters" in out
    assert "checked against NumPy" in out
    # Everything is given back once the array is dropped: only the holder's
    # ledger block remains in use.
    assert "after the array is dropped: arena used 16.1 KiB" in out
