"""The CEL runtime (compile, Context) without the interactive shell its package ships.

`import cel` runs the package's `__init__`, which imports `cel.cli` and with it typer, rich and
prompt_toolkit: about 25 MiB resident for the life of a controller that only compiles and evaluates
conditions. This loads the package's Rust extension `cel.cel` alone, under its own name in
`sys.modules`, so a later `import cel` elsewhere reuses it rather than initialising it twice.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

EXTENSION = "cel.cel"


def _extension() -> ModuleType:
    loaded = sys.modules.get(EXTENSION)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("cel")  # finds the package without running its __init__
    if package is None or not package.submodule_search_locations:
        raise ImportError("the CEL runtime is missing: pip install common-expression-language")
    loader = (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES)
    for location in package.submodule_search_locations:
        spec = importlib.machinery.FileFinder(location, loader).find_spec(EXTENSION)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            sys.modules[EXTENSION] = module
            spec.loader.exec_module(module)
            return module
    raise ImportError(f"no {EXTENSION} extension in {list(package.submodule_search_locations)}")


if TYPE_CHECKING:
    from cel.cel import Context, compile
else:
    Context, compile = _extension().Context, _extension().compile

__all__ = ["Context", "compile"]
