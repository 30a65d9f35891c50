# Stubs of shoal/_frozen.py: the views shoal.freeze() returns.
from collections.abc import Mapping, Sequence, Set
from typing import Any, ClassVar

from shoal import _shoal

class FrozenDict(_shoal._FrozenDict, Mapping[Any, Any]):
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __or__(self, other: Mapping[Any, Any]) -> dict[Any, Any]: ...
    def __ror__(self, other: Mapping[Any, Any]) -> dict[Any, Any]: ...

class FrozenList(_shoal._FrozenList, Sequence[Any]):
    __hash__: ClassVar[None]  # type: ignore[assignment]

class FrozenTuple(_shoal._FrozenTuple, Sequence[Any]):
    def __hash__(self) -> int: ...

class FrozenSet(_shoal._FrozenSet, Set[Any]):
    def __hash__(self) -> int: ...
