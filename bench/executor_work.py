"""The executor benchmark's work, importable by name in every worker
(interpreters and processes); imports nothing an isolated interpreter cannot."""


def sum_of_squares(chunk):
    """CPU-bound pure Python: one bytecode loop per float64 element."""
    total = 0.0
    for v in memoryview(chunk).cast("B").cast("d"):
        total += v * v
    return total


def noop(_index=None):
    return None
