"""report.json's JSON Schema, generated from the typed Comparison and committed beside this module
(report.schema.json); a test fails when the two differ. Regenerate after changing a report type:

    python -m spacekit.report.schema
"""

from __future__ import annotations

import json
from pathlib import Path

from spacekit.compare import Comparison

SCHEMA_FILE = Path(__file__).with_name("report.schema.json")


def schema_text() -> str:
    """The schema as committed: indented JSON, one trailing newline."""
    return json.dumps(Comparison.json_schema(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
