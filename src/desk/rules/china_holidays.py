"""China's holiday table from the ``holidays`` package, loaded alone and only when first asked.

Importing any one country the usual way (``holidays.countries.china``) first runs the
``holidays.countries`` package, which imports all of its countries (Germany's school
calendars included): about 0.2 s of a short command's start (``desk ring``), paid for one
country. :func:`china` loads the module ``holidays/countries/china.py`` under its own name
without that package's ``__init__`` (what the package's lazy registry would import anyway),
once per process; if the whole package is imported later, it finds the module already loaded.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from holidays.holiday_base import HolidayBase

_MODULE = "holidays.countries.china"
_lock = threading.Lock()


def china() -> type[HolidayBase]:
    """The ``holidays`` package's ``China`` class."""
    with _lock:
        module = sys.modules.get(_MODULE)
        if module is None:
            import holidays

            path = Path(holidays.__file__).parent / "countries" / "china.py"
            spec = importlib.util.spec_from_file_location(_MODULE, path)
            if spec is None or spec.loader is None:  # pragma: no cover - a broken install
                raise ImportError(f"cannot load {_MODULE} from {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[_MODULE] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[_MODULE]
                raise
    found: type[HolidayBase] = module.China
    return found
