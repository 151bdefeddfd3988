"""Billable items in documentation text (``/suggest``): segmentation (``segments``), the lexicon of
billable names (``lexicon``), attributes (``attributes``), negation (``negation``), and the pipeline that
searches every mention in one batch (``pipeline.suggest``)."""
