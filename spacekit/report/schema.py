"""report.json's JSON Schema, generated from the typed Comparison and committed beside this module
(report.schema.json), and the checkpoints report's (checkpoints.schema.json, from CheckpointComparison); a test
fails when a committed one differs from what the types generate. Regenerate after changing a report type:

    python -m spacekit.report.schema
"""

from __future__ import annotations

import json
from pathlib import Path

from spacekit.compare import Comparison
from spacekit.compare.checkpoints import CheckpointComparison

SCHEMA_FILE = Path(__file__).with_name("report.schema.json")
CHECKPOINTS_SCHEMA_FILE = Path(__file__).with_name("checkpoints.schema.json")


def schema_text() -> str:
    """The schema as committed: indented JSON, one trailing newline."""
    return json.dumps(Comparison.json_schema(), indent=1, ensure_ascii=False) + "\n"


def checkpoints_schema_text() -> str:
    """The checkpoints report's schema as committed."""
    return json.dumps(CheckpointComparison.json_schema(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    for file, text in ((SCHEMA_FILE, schema_text()), (CHECKPOINTS_SCHEMA_FILE, checkpoints_schema_text())):
        file.write_text(text, encoding="utf-8")
        print(f"wrote {file}")
