"""``codefinder mcp`` with the tests' fake encoder: the MCP tests start it as a subprocess
(``python -m tests.mcp_fake_server mcp --index DIR``)."""

from __future__ import annotations

import sys

from codefinder.api.cli import main
from codefinder.api.context import AppContext
from codefinder.indexer.settings import Settings
from tests.conftest import FakeEncoder

if __name__ == "__main__":
    encoder = FakeEncoder()
    main(sys.argv[1:], obj=AppContext(settings=Settings(), encoder_factory=lambda _settings: encoder))
