"""The edges: the ``codefinder`` command line and the HTTP API with its web page."""
