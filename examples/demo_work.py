"""The demo's work, in a module of its own: worker interpreters import it by
name to find the function, and an isolated interpreter cannot import NumPy,
which the demo script itself uses."""

from collections.abc import Buffer


def sum_of_squares(chunk: Buffer) -> float:
    """CPU-bound pure Python: one bytecode loop per float64 element."""
    total = 0.0
    for v in memoryview(chunk).cast("B").cast("d"):
        total += v * v
    return total


def ready(_index: int | None = None) -> bool:
    """A no-op, to start every worker before the clock starts."""
    return True
