"""The views of ``shoal.freeze()``: FrozenDict, FrozenList, FrozenTuple, FrozenSet.

Each subclasses a C type of ``shoal._shoal`` (the reading, lookups and
iteration, in place) and the matching ``collections.abc`` class (the rest
of the protocol: ``keys()``, ``index()``, set operations...), and is handed
back to the C side so that every view it makes is one of these.

Equality is by value, as for the plain types: a FrozenDict equals a dict
with the same items, a FrozenList a list, a FrozenTuple a tuple, a FrozenSet
a set or frozenset. FrozenTuple and FrozenSet hash as the tuple and
frozenset they equal; FrozenDict and FrozenList are unhashable, like dict
and list. Comparing or hashing reads the whole value (once, for a hash).
"""

from collections.abc import ItemsView, Mapping, Sequence, Set, ValuesView

from shoal import _shoal


class _Values(ValuesView):
    __slots__ = ()

    def __iter__(self):
        return self._mapping._iter_values()


class _Items(ItemsView):
    __slots__ = ()

    def __iter__(self):
        return self._mapping._iter_items()


class FrozenDict(_shoal._FrozenDict, Mapping):
    """A read-only dict in an arena, read in place (``shoal.freeze``)."""

    __slots__ = ()
    __hash__ = None

    def values(self):
        return _Values(self)

    def items(self):
        return _Items(self)

    def __eq__(self, other):
        if isinstance(other, _shoal._FrozenDict) and self._same_value(other):
            return True
        if isinstance(other, Mapping):
            theirs = other.thaw() if isinstance(other, _shoal._FrozenDict) else dict(other.items())
            return self.thaw() == theirs
        return NotImplemented

    def __or__(self, other):  # as dict | dict: a new plain dict
        if not isinstance(other, Mapping):
            return NotImplemented
        return {**self, **other}

    def __ror__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return {**other, **self}


def _sequence_eq(self, other, plain_type, view_type):
    if isinstance(other, view_type):
        return self._same_value(other) or self.thaw() == other.thaw()
    if isinstance(other, plain_type):
        return len(self) == len(other) and self.thaw() == other
    return NotImplemented


class FrozenList(_shoal._FrozenList, Sequence):
    """A read-only list in an arena, read in place (``shoal.freeze``)."""

    __slots__ = ()
    __hash__ = None

    def __eq__(self, other):
        return _sequence_eq(self, other, list, _shoal._FrozenList)


class FrozenTuple(_shoal._FrozenTuple, Sequence):
    """A read-only tuple in an arena, read in place (``shoal.freeze``)."""

    __slots__ = ()

    def __eq__(self, other):
        return _sequence_eq(self, other, tuple, _shoal._FrozenTuple)

    def __hash__(self):
        return hash(self.thaw())


class FrozenSet(_shoal._FrozenSet, Set):
    """A read-only set in an arena, read in place (``shoal.freeze``): a frozen
    ``set`` and a frozen ``frozenset`` are both FrozenSets (immutable, hashable)."""

    __slots__ = ()

    @classmethod
    def _from_iterable(cls, iterable):  # the results of &, |, -, ^: plain frozensets
        return frozenset(iterable)

    def __eq__(self, other):
        if isinstance(other, _shoal._FrozenSet) and self._same_value(other):
            return True
        if isinstance(other, Set):
            return len(self) == len(other) and self.thaw() == (other.thaw() if isinstance(other, _shoal._FrozenSet) else set(other))
        return NotImplemented

    def __hash__(self):
        return hash(frozenset(self.thaw()))


_shoal._set_frozen_classes(FrozenDict, FrozenList, FrozenTuple, FrozenSet)

for _cls in (FrozenDict, FrozenList, FrozenTuple, FrozenSet):
    _cls.__module__ = "shoal"  # where users import them from
