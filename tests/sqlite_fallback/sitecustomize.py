"""Makes this Python look like pyenv's or python.org's on a Mac: the standard library's sqlite3
cannot load extensions, and pysqlite3 is not installed. Put on PYTHONPATH by
tests/test_db_fallback.py (and inherited by the tierd processes the tests start)."""

import importlib.abc
import sqlite3
import sys


class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "pysqlite3":
            raise ImportError(f"No module named {name!r} (absent in the forced-fallback run)")
        return None


class _NoExtensionLoading(sqlite3.Connection):
    def __getattribute__(self, name):
        if name in ("enable_load_extension", "load_extension"):
            raise AttributeError(f"'sqlite3.Connection' object has no attribute {name!r}")
        return super().__getattribute__(name)


_connect = sqlite3.connect


def _connect_without_extensions(*args, **kwargs):
    kwargs.setdefault("factory", _NoExtensionLoading)
    return _connect(*args, **kwargs)


sys.meta_path.insert(0, _Absent())
sqlite3.connect = _connect_without_extensions
