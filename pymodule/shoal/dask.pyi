# Stubs of shoal/dask.py.
from typing import Any, Final

from distributed import Client
from distributed.diagnostics.plugin import WorkerPlugin

from shoal._shoal import Arena

__all__ = ["enable", "host_identity", "ShoalWorkerPlugin", "COPY_THRESHOLD", "HANDSHAKE_KEY"]

# With arrays enabled, NumPy arrays from this size up that are not arena
# memory are copied into the arena to cross as handles.
COPY_THRESHOLD: Final[int]
# The handshake entry naming a process's host identity.
HANDSHAKE_KEY: Final[str]

def host_identity() -> dict[str, Any]: ...
def dumps(x: object, context: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[Any]]: ...
def loads(header: dict[str, Any], frames: list[Any]) -> Any: ...

class ShoalWorkerPlugin(WorkerPlugin):
    idempotent: bool
    name: str
    arrays: bool
    arena: str | None
    boot_id: str | None
    def __init__(self, arrays: bool = False, arena: str | None = None, boot_id: str | None = None) -> None: ...
    def setup(self, worker: Any) -> None: ...

def enable(
    client: Client | None = None, *, arrays: bool = False, arena: Arena | str | None = None
) -> ShoalWorkerPlugin | None: ...
