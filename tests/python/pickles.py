"""Pickles whose in-flight references a test releases when it is done with
them, so that it can compare arena.used with its baseline right away
instead of waiting out the pickle lifetime."""

import pickle

from shoal import _pickling

_made = []


def dumps(value):
    with _pickling.collecting_tickets() as refs:
        data = pickle.dumps(value)
    _made.extend(refs)
    return data


def release():
    """Ends the in-flight references of every pickle dumps() made."""
    _pickling.release(_made)
    _made.clear()
