"""``python -m aion_cli``: the same program as the ``aion`` console script."""

from .main import main

main()
