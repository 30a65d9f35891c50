# Stubs of shoal/ray.py.
__all__ = ["register"]

def register() -> None: ...
