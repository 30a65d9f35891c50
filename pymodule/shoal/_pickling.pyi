# Stubs of shoal/_pickling.py: its public face (shoal.get_pickle_lifetime,
# set_pickle_lifetime, pickle_lifetime); the rest is the package's own.
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Final

DEFAULT_LIFETIME: Final[float]

def get_pickle_lifetime() -> float: ...
def set_pickle_lifetime(seconds: float) -> float: ...
def pickle_lifetime(seconds: float) -> AbstractContextManager[float]: ...
