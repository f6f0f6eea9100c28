"""Hunter's stateless core: everything that is not trigger glue lives in this package."""

__version__ = "0.1.0"
