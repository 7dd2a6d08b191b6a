"""Every data string is hostile until escaped: for the terminal (and logs), Markdown, HTML, plot labels and
spreadsheet cells. The bottom layer, so that progress lines, the report and the kinds' own report sections all use
it.

Data strings are texts, ids, task and group names, file paths and model specs: anything that came from a user's
files or arguments rather than from spacekit itself.
"""

from __future__ import annotations

import html as _html
import re

# C0 controls but tab (newlines too: a name holding one must not print a line of its own, such as a fake verdict),
# DEL, C1 controls (ESC starts ANSI/OSC sequences), and the bidi overrides
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: object) -> str:
    """A data string made safe to print on a terminal, on one line: control characters (line breaks included) shown
    as \\n / \\xNN / \\uNNNN instead of sent (no ANSI or OSC sequence reaches the terminal). Print it as plain
    text (rich: Text(...), never markup)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))

# characters that start or end Markdown syntax anywhere in a line: emphasis, code, links and images, tables,
# strikethrough (and the backslash itself); at the start of a cell or item also headings, quotes and list marks
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
_LEADING = re.compile(r"^(\s*)([#+\-=]|\d+(?=[.)]))")


def md(text: object) -> str:
    """A data string as literal Markdown text: HTML special characters as entities (no raw HTML), the characters
    of inline syntax backslash-escaped (no emphasis, code, link, image or table cell boundary), a leading heading,
    quote or list mark escaped, line breaks as spaces (a table cell or list item stays one line)."""
    s = plain(str(text).replace("\r", " ").replace("\n", " "))
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    s = _MARKDOWN.sub(r"\\\1", s)
    return _LEADING.sub(lambda m: m.group(1) + (m.group(2) + "\\" if m.group(2)[0].isdigit() else "\\" + m.group(2)), s)


def html(text: object) -> str:
    """A data string as literal HTML text (quotes too: safe inside an attribute)."""
    return _html.escape(str(text))


def plot_label(text: object) -> str:
    """A data string as a literal matplotlib label, its line breaks kept (labels are wrapped on purpose): a '$'
    would start mathtext (and an unbalanced one raise)."""
    return "\n".join(plain(line) for line in str(text).split("\n")).replace("$", r"\$")


_FORMULA = ("=", "+", "-", "@", "\t", "\r")       # a spreadsheet reads a cell starting so as a formula


def spreadsheet_cell(text: object) -> str:
    """A data string as a CSV cell a spreadsheet shows as text: a leading formula character gets an apostrophe
    (OWASP's CSV-injection rule); cell_value undoes it."""
    s = str(text)
    return "'" + s if s.startswith(_FORMULA) else s


def cell_value(cell: str) -> str:
    """The data string a spreadsheet_cell holds."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA) else cell


__all__ = ["cell_value", "html", "md", "plain", "plot_label", "spreadsheet_cell"]
