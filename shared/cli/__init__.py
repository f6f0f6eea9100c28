"""The ``hunter`` command line: :mod:`.main` is the click group, one module per command group."""
