"""A new kind is its file alone: a kind written here (nearest-neighbour label agreement) and registered is read from
suites, gets `spacekit eval <kind>` with its options, a row in docs/suite.md's table, and is tested by compare,
its report conforming to the committed schema, with no line of spacekit naming it (docs/adding-a-kind.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

import numpy as np
import pytest
from click.testing import CliRunner
from report_checks import assert_valid_report

from spacekit.cli import main
from spacekit.embed import EncodeOptions, Model
from spacekit.tasks import MetricSpec, Task, TaskResult, registry
from spacekit.tasks.base import require_metric, task_name, texts_per_item
from spacekit.tasks.options import Option


@dataclass
class NeighbourLabelTask(Task[TaskResult]):
    """Whether each text's nearest other text carries its label."""

    data: Annotated[str | Path, Option("labelled texts (text, label)", path=True)]
    text_field: Annotated[str, Option("the text column")] = "text"
    name: str = ""
    kind: ClassVar[str] = "neighbour_label"
    default_metrics: ClassVar[tuple[str, ...]] = ("agreement",)

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        """The share of texts whose neighbour agrees: a mean over items."""
        require_metric(cls.kind, metric, cls.default_metrics)
        return MetricSpec("mean")

    def read_inputs(self):
        """The labelled texts."""
        from spacekit.io.labelled import read_labelled

        return read_labelled(self.data, text_field=self.text_field)

    def run(self, model: Model, opts: EncodeOptions) -> TaskResult:
        """Per text: 1 when its nearest other text (cosine) has its label."""
        data = self.inputs()
        x = opts.embed(model, data.ids, data.texts)
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        sim = x @ x.T
        np.fill_diagonal(sim, -np.inf)
        labels = np.asarray(data.labels)
        agree = (labels[sim.argmax(1)] == labels).astype(np.float64)
        return TaskResult(kind=self.kind, name=task_name(self.name, self.data), dataset=str(self.data),
                          model=model.spec, metrics={"agreement": float(agree.mean())}, item_ids=data.ids,
                          per_item={"agreement": agree}, item_texts=texts_per_item(data.ids, data.texts))


@pytest.fixture
def new_kind(monkeypatch):
    """The kind registered for one test (the registry as it was afterwards)."""
    monkeypatch.setattr(registry, "_KINDS", dict(registry.kinds()))
    return registry.register(NeighbourLabelTask)


def _texts(tmp_path: Path) -> Path:
    rows = [{"id": f"{topic}-{i}", "text": f"{topic} question number {i} about the {topic}", "label": topic}
            for topic in ("printer", "router", "laptop") for i in range(8)]
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_kind_written_outside_spacekit_is_read_evaluated_documented_and_compared(new_kind, tmp_path, tiny_model):
    assert new_kind.options == {"data": str, "text_field": str}
    assert new_kind.required == ("data",)
    assert new_kind.paths == ("data",)
    texts = _texts(tmp_path)

    evaluated = CliRunner().invoke(main, ["eval", "neighbour-label", str(tiny_model), str(texts), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    direct = NeighbourLabelTask(texts).run(__import__("spacekit").load_model(str(tiny_model)), EncodeOptions())
    assert json.loads(evaluated.stdout)["metrics"] == {"agreement": direct.metrics["agreement"]}
    assert "--text-field" in CliRunner().invoke(main, ["eval", "neighbour-label", "--help"]).output

    from spacekit.tasks.catalogue import kinds_table

    assert "### neighbour_label" in kinds_table()
    assert "| `text_field` | str | 'text' | the text column |" in kinds_table()

    suite = tmp_path / "suite.toml"
    suite.write_text('[[task]]\nname = "agree"\nkind = "neighbour_label"\ndata = "texts.jsonl"\n')
    out = tmp_path / "report"
    compared = CliRunner().invoke(main, ["compare", str(tiny_model), str(tiny_model), "--suite", str(suite), "-o",
                                         str(out), "--resamples", "200", "--json"])
    assert compared.exit_code == 0, compared.output
    report = json.loads(compared.stdout)
    assert_valid_report(report)
    [entry] = report["tasks"]
    assert entry["kind"] == "neighbour_label"
    assert entry["metrics"]["agreement"]["before"] == pytest.approx(direct.metrics["agreement"], abs=1e-12)
    assert entry["metrics"]["agreement"]["delta"] == 0
    assert report["headline"]["rows"][0]["verdict"] == "equivalent"

    suite.write_text('[[task]]\nname = "agree"\nkind = "neighbour_label"\ndata = "texts.jsonl"\nk = 3\n')
    refused = CliRunner().invoke(main, ["compare", str(tiny_model), str(tiny_model), "--suite", str(suite), "-o",
                                        str(tmp_path / "r2")])
    assert refused.exit_code == 2
    assert "unknown key 'k' for neighbour_label (it takes" in refused.output
    assert refused.output.rstrip().endswith("data, text_field)")
