"""``python -m shared`` is the same as the ``hunter`` command."""

from shared.cli.main import main

if __name__ == "__main__":
    main()
