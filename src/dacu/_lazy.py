"""Lazy package exports: a package lists its public names and the module of each; a name is
imported on first use, so `dacu --help` does not pay for SciPy, statsforecast or FastAPI.

    __getattr__, __dir__ = lazy_exports(__name__, _LAZY)

`dir(package)` and tab completion in a notebook show the lazy names as well as the loaded ones.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level `__getattr__` and `__dir__` of `package` for {name: module}."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # next time a plain attribute lookup
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
