"""``python -m shno_neurons``: the ``shno-neurons`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
