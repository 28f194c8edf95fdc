"""One module per command group of the ``soundbridge`` command line."""
