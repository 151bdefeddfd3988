"""One module per command; ``codefinder.api.cli`` registers them on the ``codefinder`` group."""
