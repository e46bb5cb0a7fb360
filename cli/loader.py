"""Finding the user's workflow code: import modules, collect decorated functions.

Code runs only from what the user names. Workflows are named on the command
line as ``MODULE:WORKFLOW`` (or a module given with ``-m``); such a module
may be a dotted import path or a ``.py`` file, and the current directory is
searched for it after everything else on ``sys.path`` (so ``aion run
myapp.flows:order`` works from a project checkout, but a stray ``json.py``
there never shadows an installed module).

A name that comes from a data file (a fixture's ``"module"``, or the
``module:qualname`` a history records) is different: it is only ever a
dotted name, looked up on the import path (``sys.path``, plus the
directories given with ``--path`` or ``AION_PATH``) and never in the current
directory unless the user put it there, the way Python's safe-path mode
works. A data file therefore cannot pick a file to import.
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

from .errors import EXIT_USAGE, CliError
from .safe import clean


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


#: Environment variable naming extra import directories (``os.pathsep``-separated).
PATH_ENV = "AION_PATH"


def import_dirs(dirs: Iterable[str] = ()) -> list[str]:
    """The directories the user added to the import path: ``--path`` values, then ``AION_PATH``."""
    extra = [*dirs, *os.environ.get(PATH_ENV, "").split(os.pathsep)]
    return [os.path.abspath(d) for d in extra if d]


def _add_dirs(dirs: Iterable[str]) -> None:
    for directory in reversed(import_dirs(dirs)):
        if directory not in sys.path:
            sys.path.insert(0, directory)


def is_module_name(name: str) -> bool:
    """Whether ``name`` is ``pkg.mod`` or ``pkg.mod:qualname`` (never a path)."""
    module, _, qualname = name.partition(":")
    if module.endswith(".py"):
        return False  # a dotted name, technically, but written as a file: refuse the ambiguity
    parts = module.split(".") + (qualname.split(".") if ":" in name else [])
    return bool(module) and all(part.isidentifier() for part in parts)


def _cwd_entries() -> set[str]:
    cwd = os.getcwd()
    return {"", ".", cwd}


def _import_error(module: str, exc: BaseException) -> CliError:
    if isinstance(exc, ImportError):
        msg = f"cannot import module {module!r}: {exc}."
        hint = (
            "install the package that holds it, or name its directory with --path DIR "
            f"(or {PATH_ENV})."
        )
        return CliError(msg, hint)
    msg = f"importing module {module!r} raised {type(exc).__name__}: {exc}."
    return CliError(msg, "fix the module so it imports cleanly.")


def _import(module: str) -> ModuleType:
    """Import a module the user named (a dotted name or a ``.py`` file)."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)  # last: never shadows an installed or standard module
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
    except Exception as exc:
        raise _import_error(module, exc) from None


def _import_recorded(name: str, allowed: set[str]) -> ModuleType:
    """Import a module named by a data file: a dotted name on the import path only.

    The current directory is left out of ``sys.path`` while importing (unless
    the user named it with ``--path``, ``AION_PATH`` or ``PYTHONPATH``), so a
    fixture saying ``"module": "evil"`` next to an ``evil.py`` imports
    nothing from there.
    """
    module = name.partition(":")[0]
    saved = list(sys.path)
    hidden = _cwd_entries() - allowed
    sys.path[:] = [p for p in saved if p not in hidden]
    try:
        return importlib.import_module(module)
    except Exception as exc:
        raise _import_error(module, exc) from None
    finally:
        kept = [p for p in sys.path if p not in saved]  # anything the module itself added
        sys.path[:] = saved + kept


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


def _collect_into(
    code: tuple[list[str], dict[str, Callable[..., Any]], dict[str, Callable[..., Any]]],
    name: str,
    module: ModuleType,
) -> None:
    names, workflows, activities = code
    names.append(name)
    found_w, found_a = collect(module)
    workflows.update(found_w)
    activities.update(found_a)


def load(modules: Iterable[str], *, path: Iterable[str] = ()) -> Code:
    """Import the modules the user named and collect their workflows (later ones win).

    Args:
        modules: Dotted names or ``.py`` files, as given on the command line.
        path: Extra import directories (``--path``), searched before ``sys.path``.
    """
    _add_dirs(path)
    acc: tuple[list[str], dict[str, Callable[..., Any]], dict[str, Callable[..., Any]]] = (
        [],
        {},
        {},
    )
    for module in modules:
        if module not in acc[0]:
            _collect_into(acc, module, _import(module))
    return Code(tuple(acc[0]), acc[1], acc[2])


def reload_code(code: Code) -> Code:
    """Import the modules of ``code`` again (``importlib.reload``) and collect them anew.

    A running worker does this for ``aion resume`` so that fixed workflow
    code on disk is used without a restart. The modules are the ones the
    user named (trusted code); a module that no longer imports is an error
    for that request, and the worker keeps the code it had.
    """
    acc: tuple[list[str], dict[str, Callable[..., Any]], dict[str, Callable[..., Any]]] = (
        [],
        {},
        {},
    )
    for name in code.modules:
        is_file = name.endswith(".py") or os.sep in name
        module_name = Path(name).stem if is_file else name
        module = sys.modules.get(module_name)
        try:
            if is_file:  # reload() looks a name up on sys.path: run the file again instead
                sys.modules.pop(module_name, None)
                fresh = _import(name)
            else:
                fresh = importlib.reload(module) if module is not None else _import(name)
        except CliError:
            raise
        except Exception as exc:
            raise _import_error(name, exc) from None
        _collect_into(acc, name, fresh)
    return Code(tuple(acc[0]), acc[1], acc[2])


def load_recorded(
    names: Iterable[str],
    *,
    path: Iterable[str] = (),
    note: Callable[[str], None] | None = None,
    origin: str = "the history",
    qualified: bool = False,
) -> Code:
    """Import modules a data file names (see the module docstring for the rules).

    Args:
        names: ``pkg.mod`` or ``pkg.mod:qualname`` names, as recorded.
        path: Extra import directories (``--path``).
        note: Where to say which module is being imported (one line per module).
        origin: What recorded the names, for that line.
        qualified: Require ``pkg.mod:qualname`` (what `WorkflowStarted.code` holds).
    """
    _add_dirs(path)
    allowed = set(import_dirs(path))
    allowed.update(
        os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
    )
    acc: tuple[list[str], dict[str, Callable[..., Any]], dict[str, Callable[..., Any]]] = (
        [],
        {},
        {},
    )
    for name in names:
        if not is_module_name(name) or (qualified and ":" not in name):
            rule = (
                "a recorded code name must be module:qualname (dotted identifiers), not a path"
                if qualified
                else "a recorded module must be a dotted name, not a path"
            )
            msg = f"refusing to import {clean(name)!r} (recorded in {origin}): {rule}."
            raise CliError(msg, "pass the module that defines the workflow with -m MODULE.")
        module = name.partition(":")[0]
        if module in acc[0]:
            continue
        if note is not None:
            note(f"importing module {module!r} (recorded in {origin}; -m overrides)")
        _collect_into(acc, module, _import_recorded(module, allowed))
    return Code(tuple(acc[0]), acc[1], acc[2])


def code_name(fn: Callable[..., Any]) -> str | None:
    """``module:qualname`` of a workflow function, as `WorkflowStarted.code` records it.

    None when it could not be imported back by that name (defined inside a
    function, or in a script run as ``__main__``).
    """
    module, qualname = getattr(fn, "__module__", ""), getattr(fn, "__qualname__", "")
    name = f"{module}:{qualname}"
    return name if module != "__main__" and is_module_name(name) else None


def split_target(target: str, *, bare: bool = False) -> tuple[str, str]:
    """``MODULE:WORKFLOW`` into its two parts, or a usage error.

    Args:
        target: As given on the command line.
        bare: Accept a bare ``WORKFLOW`` (module ``""``): the code comes from ``-m``.
    """
    module, sep, name = target.rpartition(":")
    if bare and not sep and target:
        return "", target
    if not sep or not module or not name:
        msg = f"{target!r} does not name a workflow as MODULE:WORKFLOW."
        raise CliError(msg, "for example: aion run myapp.flows:order '\"o-1\"' 1299")
    return module, name


def load_target(
    target: str, extra: Iterable[str] = (), *, path: Iterable[str] = ()
) -> tuple[Code, Callable[..., Any]]:
    """Import the module of ``MODULE:WORKFLOW`` (plus ``extra``) and find the workflow.

    With ``extra`` modules (``-m``), ``target`` may be the bare workflow name.
    """
    extra = list(extra)
    module, name = split_target(target, bare=bool(extra))
    code = load([*([module] if module else []), *extra], path=path)
    return code, code.workflow(name)
