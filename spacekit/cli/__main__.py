"""python -m spacekit.cli: the spacekit command."""

from spacekit.cli import main

main()
