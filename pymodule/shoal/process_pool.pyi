# Stubs of shoal/process_pool.py.
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import process as _process
from multiprocessing.context import BaseContext
from typing import Any, Final, ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")

# NumPy arrays from this size up are copied into the arena (and cross as
# handles) rather than pickled.
COPY_THRESHOLD: Final[int]

class ProcessPoolExecutor(_process.ProcessPoolExecutor):
    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: BaseContext | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        max_tasks_per_child: int | None = None,
    ) -> None: ...
    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]: ...
    def map(
        self,
        fn: Callable[..., _T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> Iterator[_T]: ...
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None: ...

__all__ = ["ProcessPoolExecutor", "COPY_THRESHOLD"]
