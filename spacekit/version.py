"""spacekit's version (the bottom layer: stores and reports record it)."""

__version__ = "0.1.0"
