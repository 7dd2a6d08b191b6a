"""report.json's schema is generated from the typed Comparison and committed: the committed file is what the types
generate (a field added to a report type without regenerating fails here), it is a valid draft 2020-12 schema, and
it refuses what the types cannot produce."""

from __future__ import annotations

import json
from dataclasses import dataclass

import jsonschema
from report_checks import schema_errors

from spacekit.compare import Comparison
from spacekit.compare.verdict import TagSummary
from spacekit.records import json_schema, to_json
from spacekit.report.schema import CHECKPOINTS_SCHEMA_FILE, SCHEMA_FILE, checkpoints_schema_text, schema_text


def test_the_committed_schema_is_the_one_the_types_generate():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "report.schema.json is stale: run `python -m spacekit.report.schema` and commit it")
    assert CHECKPOINTS_SCHEMA_FILE.read_text(encoding="utf-8") == checkpoints_schema_text(), (
        "checkpoints.schema.json is stale: run `python -m spacekit.report.schema` and commit it")
    jsonschema.Draft202012Validator.check_schema(json.loads(CHECKPOINTS_SCHEMA_FILE.read_text(encoding="utf-8")))


def test_the_schema_is_valid_and_names_every_section():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    top = schema["$defs"]["Comparison"]
    assert set(top["required"]) >= {"before", "after", "verdict", "headline", "tasks", "overfitting", "leakage",
                                    "drift", "reference", "probes", "queries", "plots"}
    assert "online" in top["properties"]
    assert "online" not in top["required"]                             # only with --ab / --interleaved
    assert top["additionalProperties"] is False
    cell = schema["$defs"]["MetricTest"]["properties"]
    assert {"before", "after", "delta", "ci_low", "ci_high", "p_value", "p_adjusted", "family", "margin", "tost_p",
            "needed_n", "verdict"} <= set(cell)                       # DESIGN.md's contract for each metric


def test_a_field_the_schema_does_not_know_is_refused():
    """A record with one field more than the committed type writes a key the schema refuses."""

    @dataclass(frozen=True)
    class TagSummary2(TagSummary):
        """TagSummary with one field more."""

        extra: int = 1

    written = to_json(TagSummary2(1, 1, 0, 0.01, "x"))
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    one = {"$defs": committed["$defs"], "$ref": "#/$defs/TagSummary"}
    errors = list(jsonschema.Draft202012Validator(one).iter_errors(written))
    assert [e.message for e in errors] == ["Additional properties are not allowed ('extra' was unexpected)"]
    assert json_schema(TagSummary2)["$defs"]["TagSummary2"]["properties"]["extra"] == {"type": "integer"}
    assert schema_errors({"verdict": "improved"})                       # a report missing its sections


def test_undefined_numbers_are_null_and_allowed():
    written = to_json(TagSummary(0, 0, 0, float("nan"), "no task"))
    assert written["mean_delta"] is None
    assert Comparison.json_schema()["$defs"]["TagSummary"]["properties"]["mean_delta"]["anyOf"][-1] == {"type": "null"}
