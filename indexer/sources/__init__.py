"""Readers for every shape CMS ships code sets in, plus plain CSV/TSV for other code sets.

``read_source`` sniffs the shape; each shape has its own module.
"""

from __future__ import annotations

from codefinder.indexer.sources.base import SourceResult
from codefinder.indexer.sources.detect import read_source

__all__ = ["SourceResult", "read_source"]
