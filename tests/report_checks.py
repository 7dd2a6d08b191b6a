"""report.json against its committed JSON Schema (spacekit/report/report.schema.json): the tests that produce a
report (each section: leakage, online evidence, queries, probes, the MTEB reference) check it here."""

from __future__ import annotations

import json

from spacekit.report.schema import SCHEMA_FILE


def schema_errors(report: dict) -> list[str]:
    """Every place the report departs from the committed schema (empty: it conforms)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    return [f"{e.json_path}: {e.message[:300]}" for e in validator.iter_errors(report)]


def assert_valid_report(report: dict) -> None:
    """The report conforms to the committed schema."""
    errors = schema_errors(report)
    assert errors == [], errors[:10]
