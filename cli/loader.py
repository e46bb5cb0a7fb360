"""Finding the user's workflow code: import modules, collect decorated functions.

Workflows are named on the command line as ``MODULE:WORKFLOW`` (or a module
given with ``-m``). A module may be a dotted import path or a ``.py`` file.
The current directory is put on ``sys.path`` first, as ``python -m`` does, so
``aion run myapp.flows:order`` works from a project checkout without
installing it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from .app import EXIT_USAGE, CliError


@attrs.frozen
class Code:
    """Workflows and activities collected from the user's modules.

    Attributes:
        modules: The imported module names, in the order given.
        workflows: Decorated workflow functions, by registered name.
        activities: Decorated activity functions, by registered name.
    """

    modules: tuple[str, ...] = ()
    workflows: dict[str, Callable[..., Any]] = attrs.field(factory=dict)
    activities: dict[str, Callable[..., Any]] = attrs.field(factory=dict)

    def workflow(self, name: str) -> Callable[..., Any]:
        """The workflow registered as ``name``, or a usage error listing what exists."""
        fn = self.workflows.get(name)
        if fn is None:
            known = ", ".join(sorted(self.workflows)) or "none"
            where = ", ".join(self.modules) or "no module"
            msg = f"no workflow named {name!r} in {where} (found: {known})."
            raise CliError(msg, "name a function decorated with @aion.workflow.", EXIT_USAGE)
        return fn


def _import(module: str) -> ModuleType:
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        if module.endswith(".py") or os.sep in module:
            path = Path(module).resolve()
            name = path.stem
            if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
                return sys.modules[name]
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                msg = f"cannot import {module!r}: not a Python file."
                raise CliError(msg, "give a dotted module path or a .py file.")
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
            return mod
        return importlib.import_module(module)
    except CliError:
        raise
    except FileNotFoundError:
        msg = f"cannot import {module!r}: no such file."
        raise CliError(msg, "give a dotted module path or a .py file.") from None
    except ImportError as exc:
        msg = f"cannot import module {module!r}: {exc}."
        hint = "run aion from your project directory, or install the package that holds it."
        raise CliError(msg, hint) from None
    except Exception as exc:
        msg = f"importing module {module!r} raised {type(exc).__name__}: {exc}."
        raise CliError(msg, "fix the module so it imports cleanly.") from None


def collect(
    module: ModuleType,
) -> tuple[dict[str, Callable[..., Any]], dict[str, Callable[..., Any]]]:
    """Every ``@aion.workflow`` and ``@aion.activity`` function a module defines or imports."""
    workflows: dict[str, Callable[..., Any]] = {}
    activities: dict[str, Callable[..., Any]] = {}
    for value in vars(module).values():
        definition = getattr(value, "__aion_workflow__", None)
        if definition is not None and callable(value):
            workflows[definition.name] = value
        definition = getattr(value, "__aion_activity__", None)
        if definition is not None and callable(value):
            activities[definition.name] = value
    return workflows, activities


def load(modules: Iterable[str]) -> Code:
    """Import ``modules`` and collect their workflows and activities (later ones win)."""
    names: list[str] = []
    workflows: dict[str, Callable[..., Any]] = {}
    activities: dict[str, Callable[..., Any]] = {}
    for module in modules:
        if module in names:
            continue
        names.append(module)
        found_w, found_a = collect(_import(module))
        workflows.update(found_w)
        activities.update(found_a)
    return Code(tuple(names), workflows, activities)


def split_target(target: str) -> tuple[str, str]:
    """``MODULE:WORKFLOW`` into its two parts, or a usage error."""
    module, sep, name = target.rpartition(":")
    if not sep or not module or not name:
        msg = f"{target!r} does not name a workflow as MODULE:WORKFLOW."
        raise CliError(msg, "for example: aion run myapp.flows:order '\"o-1\"' 1299")
    return module, name


def load_target(target: str, extra: Iterable[str] = ()) -> tuple[Code, Callable[..., Any]]:
    """Import the module of ``MODULE:WORKFLOW`` (plus ``extra``) and find the workflow."""
    module, name = split_target(target)
    code = load([module, *extra])
    return code, code.workflow(name)
