"""Data strings made safe for a terminal or a log: control characters shown, never sent (the bottom layer, so
progress lines from any layer can use it; report.escape builds Markdown and plot escaping on it)."""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls (ESC starts ANSI/OSC sequences), and the bidi overrides
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: object) -> str:
    """A data string made safe to print on a terminal: control characters shown as \\xNN / \\uNNNN instead of sent
    (no ANSI or OSC sequence reaches the terminal). Print it as plain text (rich: Text(...), never markup)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))
