"""`spacekit eval ...`, `geometry`, `compare` and `demo` commands (thin: parse, call the library, print)."""

from __future__ import annotations

import click

eval_group = click.Group("eval", help="Evaluate one model on one task.")
TOP_LEVEL: list[click.Command] = []
