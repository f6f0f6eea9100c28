"""Stand-ins for outside services, used by the test suite, the benchmark and ``hunter demo``.

Nothing in production imports this package.
"""
