"""The names and help texts of the access commands, read from their source without
importing it.

``popstats --help`` lists every command with its first help line. The access commands
(``popstats/access_cli``) import SQLAlchemy, the exports and more — seconds of start-up
for a help screen — so the listing reads their names and docstrings with ``ast`` instead:
``register()``'s tuple names the commands, each is a function decorated with
``@click.command("name")`` or ``@click.group("name")`` in the module it is imported from.
Anything written another way makes this return None, and the caller imports the commands
for real (slower, never wrong).
"""

from __future__ import annotations

import ast
import inspect
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "access_cli"
MODULE = "popstats.access_cli"


def _registered(init: ast.Module) -> list[str] | None:
    """The variable names in ``register()``'s ``for command in (…)`` tuple."""
    for node in ast.walk(init):
        if isinstance(node, ast.FunctionDef) and node.name == "register":
            for loop in ast.walk(node):
                if isinstance(loop, ast.For) and isinstance(loop.iter, ast.Tuple):
                    names = [e.id for e in loop.iter.elts if isinstance(e, ast.Name)]
                    return names if len(names) == len(loop.iter.elts) else None
    return None


def _sources(init: ast.Module) -> dict[str, str]:
    """variable name → the access_cli module it is imported from."""
    found = {}
    for node in init.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{MODULE}."):
            for alias in node.names:
                found[alias.asname or alias.name] = node.module.rsplit(".", 1)[1]
    return found


def _command(function: ast.FunctionDef) -> tuple[str, str] | None:
    """(name, help) of a function decorated ``@click.command("name")``/``@click.group("name")``."""
    for decorator in function.decorator_list:
        if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                and isinstance(decorator.func.value, ast.Name)
                and decorator.func.value.id == "click"
                and decorator.func.attr in ("command", "group") and decorator.args
                and isinstance(decorator.args[0], ast.Constant)
                and isinstance(decorator.args[0].value, str)):
            keywords = {k.arg: k.value for k in decorator.keywords}
            if "help" in keywords or "short_help" in keywords or "hidden" in keywords:
                return None  # not a plain docstring-help command: let click read it
            return decorator.args[0].value, inspect.cleandoc(ast.get_docstring(function) or "")
    return None


@lru_cache(maxsize=1)
def access_command_help() -> dict[str, str] | None:
    """command name → its help text, or None when the source is not in the expected shape."""
    try:
        init = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
        names, sources = _registered(init), _sources(init)
        if not names or any(n not in sources for n in names):
            return None
        modules: dict[str, ast.Module] = {}
        found = {}
        for variable in names:
            module = sources[variable]
            if module not in modules:
                modules[module] = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
            function = next((f for f in modules[module].body if isinstance(f, ast.FunctionDef)
                             and f.name == variable), None)
            command = _command(function) if function else None
            if command is None:
                return None
            found[command[0]] = command[1]
        return found
    except (OSError, SyntaxError):
        return None
