"""codefinder: HCPCS Level II and CPT codes from plain-language descriptions.

The Python API::

    from codefinder import open_engine
    engine = open_engine()
    engine.search("cpap machine").hits[0].code

``open_engine`` opens the index ``codefinder build`` published (``CODEFINDER_INDEX``, else
``<CODEFINDER_HOME>/index``); ``build_index`` builds one; ``verify`` checks an assigned code against its
description; ``suggest`` finds the billable items of documentation text (a note, an order set, MAR
entries), each with its codes. The installed packages live below this one: ``codefinder.indexer``
(sources -> records -> index), ``codefinder.models`` (the embedding model), ``codefinder.search``
(retrieval, fusion, query understanding) and ``codefinder.api`` (HTTP, web page, command line).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from codefinder.indexer.build import build_index
from codefinder.indexer.settings import Settings
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.engine_factory import open_engine
from codefinder.search.filters import Filters
from codefinder.search.suggest.pipeline import suggest
from codefinder.search.verify import verify

try:
    __version__ = _version("codefinder")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Filters",
    "SearchEngine",
    "SearchOptions",
    "Settings",
    "__version__",
    "build_index",
    "open_engine",
    "suggest",
    "verify",
]
