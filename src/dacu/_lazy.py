"""Lazy package exports: a package lists its public names and the module of each; a name is
imported on first use, so `dacu --help` does not pay for SciPy, statsforecast or FastAPI.

    __getattr__, __dir__ = lazy_exports(__name__, _LAZY)

`dir(package)` and tab completion in a notebook show the lazy names as well as the loaded ones.
`module_aliases` keeps the old import paths of moved modules working.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
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


class _ModuleAliases(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`import old.name` gives the module now at `new.name` (the very same module object)."""

    def __init__(self, aliases: Mapping[str, str]) -> None:
        self.aliases = dict(aliases)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self.aliases:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> Any:
        module = importlib.import_module(self.aliases[spec.name])
        self._spec = module.__spec__  # the import system overwrites it with the alias's spec
        return module

    def exec_module(self, module: Any) -> None:
        module.__spec__ = self._spec


def module_aliases(aliases: Mapping[str, str]) -> None:
    """Keep old import paths of moved modules working: {old dotted name: new dotted name}.

    Nothing is imported until an old name is; then it is the new module itself (same object, so
    private names and monkeypatching behave as before).
    """
    sys.meta_path.append(_ModuleAliases(aliases))
