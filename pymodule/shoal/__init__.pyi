# Stubs of shoal/__init__.py: the names `import shoal` gives, the lazily
# imported ones (SubinterpreterExecutor, ProcessPoolExecutor, interpreters,
# the pickle lifetime functions) included.
from shoal import interpreters as interpreters
from shoal._channel_async import aselect as aselect
from shoal._frozen import FrozenDict as FrozenDict
from shoal._frozen import FrozenList as FrozenList
from shoal._frozen import FrozenSet as FrozenSet
from shoal._frozen import FrozenTuple as FrozenTuple
from shoal._pickling import get_pickle_lifetime as get_pickle_lifetime
from shoal._pickling import pickle_lifetime as pickle_lifetime
from shoal._pickling import set_pickle_lifetime as set_pickle_lifetime
from shoal._shoal import Arena as Arena
from shoal._shoal import ArenaExists as ArenaExists
from shoal._shoal import ArenaFull as ArenaFull
from shoal._shoal import ArenaNotFound as ArenaNotFound
from shoal._shoal import ArenaPermissionError as ArenaPermissionError
from shoal._shoal import Buffer as Buffer
from shoal._shoal import Channel as Channel
from shoal._shoal import ChannelClosed as ChannelClosed
from shoal._shoal import ChannelPoisoned as ChannelPoisoned
from shoal._shoal import CorruptArena as CorruptArena
from shoal._shoal import CorruptObject as CorruptObject
from shoal._shoal import Empty as Empty
from shoal._shoal import ForeignHandle as ForeignHandle
from shoal._shoal import Full as Full
from shoal._shoal import InvalidHandle as InvalidHandle
from shoal._shoal import NotAnArena as NotAnArena
from shoal._shoal import PickleExpired as PickleExpired
from shoal._shoal import ProcessExiting as ProcessExiting
from shoal._shoal import ShoalError as ShoalError
from shoal._shoal import ShoalTimeout as ShoalTimeout
from shoal._shoal import TooManyHolders as TooManyHolders
from shoal._shoal import default_arena as default_arena
from shoal._shoal import empty as empty
from shoal._shoal import format_size as format_size
from shoal._shoal import freeze as freeze
from shoal._shoal import parse_size as parse_size
from shoal._shoal import select as select
from shoal.executor import SubinterpreterExecutor as SubinterpreterExecutor
from shoal.process_pool import ProcessPoolExecutor as ProcessPoolExecutor

__all__ = [
    "Arena",
    "ProcessPoolExecutor",
    "SubinterpreterExecutor",
    "ArenaExists",
    "ArenaFull",
    "ArenaNotFound",
    "ArenaPermissionError",
    "Buffer",
    "Channel",
    "ChannelClosed",
    "ChannelPoisoned",
    "CorruptArena",
    "CorruptObject",
    "Empty",
    "ForeignHandle",
    "Full",
    "InvalidHandle",
    "NotAnArena",
    "ProcessExiting",
    "ShoalError",
    "ShoalTimeout",
    "TooManyHolders",
    "default_arena",
    "empty",
    "format_size",
    "freeze",
    "FrozenDict",
    "FrozenList",
    "FrozenSet",
    "FrozenTuple",
    "interpreters",
    "parse_size",
    "PickleExpired",
    "get_pickle_lifetime",
    "pickle_lifetime",
    "set_pickle_lifetime",
    "select",
    "aselect",
]
