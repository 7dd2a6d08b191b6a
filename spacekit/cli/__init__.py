"""Command line: thin Click commands that parse, call the library, and print (JSON on stdout, logs on stderr).

One module per command group: embed.py (embed, cache), eval.py (eval ..., geometry), compare.py (compare, demo),
ab.py (ab ...);
common.py holds what they share. Option defaults come from the library's config objects. The entry point sets the
process defaults a command line wants (offline hub, tokenizer threads, BLAS spin) before any work starts; importing
spacekit sets none of them.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from spacekit.cli import ab, compare, embed, eval
from spacekit.cli.common import Cli
from spacekit.escape import plain

# Set for the process by the CLI (a library caller decides for itself; docs/library.md, "Environment"):
PROCESS_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",            # never download: a missing model is a clear error
    "TOKENIZERS_PARALLELISM": "true",  # the Rust tokenizer's threads
    # OpenBLAS (numpy's BLAS, which the CPU top-k uses where it is faster) lets idle threads spin ~0.1 s after each
    # product, halving the speed of the selection that follows on a small machine; read when numpy loads
    "OPENBLAS_THREAD_TIMEOUT": "4",
}


@click.group(cls=Cli)
@click.version_option(package_name="spacekit")
@click.option("-v", "--verbose", is_flag=True, help="log progress to stderr")
def main(verbose: bool) -> None:
    """spacekit: did fine-tuning improve this embedding model?"""
    for name, value in PROCESS_DEFAULTS.items():
        os.environ.setdefault(name, value)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PlainFormatter("%(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


class _PlainFormatter(logging.Formatter):
    """Log lines carry data strings (paths, ids): their control characters are escaped, never sent."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's line, control characters escaped."""
        return plain(super().format(record))


for module in (embed, eval, compare, ab):
    for command in module.COMMANDS:
        main.add_command(command)
