"""Settings are declared once, on the config's fields (spacekit.settings): the CLI's options take their flag, default
and help from there, the config's check and the option's check say the same thing, and --help stays light."""

import dataclasses
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from spacekit.ab import AbConfig, analyze
from spacekit.ab.simulate import ab_log
from spacekit.cli import main
from spacekit.compare.config import CompareConfig
from spacekit.errors import InputError
from spacekit.settings import Range, setting_specs

COMMANDS = [(CompareConfig, ["compare"]), (CompareConfig, ["demo"]), (AbConfig, ["ab", "analyze"])]


def _command(path: list[str]):
    cmd = main
    for name in path:
        cmd = cmd.commands[name]
    return cmd


@pytest.mark.parametrize(("config", "path"), COMMANDS, ids=[" ".join(p) for _, p in COMMANDS])
def test_every_option_of_a_setting_is_the_fields_flag_default_and_help(config, path):
    options = {opt: p for p in _command(path).params for opt in getattr(p, "opts", [])}
    specs = [s for s in setting_specs(config).values() if s.setting.cli]
    assert len(specs) >= 5
    for spec in specs:
        option = options[spec.flag]
        assert option.default == spec.default == next(f.default for f in dataclasses.fields(config)
                                                       if f.name == spec.name)
        assert option.help.startswith(spec.setting.help)
        assert option.type.name == {int: "integer", float: "float", str: "text"}[spec.type]


def test_the_option_and_the_library_refuse_a_value_in_the_same_words(tmp_path):
    log, _ = ab_log(200, seed=1)
    cases = [("k", 0, "--success-k must be an integer between 1 and 10,000, got 0"),
             ("expected_share", 1.0, "--control-share must be between 0 and 1, got 1.0"),
             ("long_click_s", -1.0, "--long-click must be a number >= 0, got -1.0"),
             ("alpha", 0.0, "--alpha must be between 0 and 1, got 0.0"),
             ("min_effect", {"*": -1}, "--min-effect *: the margin must be a number >= 0, got -1")]
    for name, value, message in cases:
        with pytest.raises(InputError, match=message.replace("*", r"\*")):
            analyze(log, AbConfig(**{name: value}))
    rows = "".join(json.dumps({"request_id": f"r{i}", "unit_id": f"u{i}", "arm": "ab"[i % 2], "query": "q",
                               "shown": ["d1", "d2"], "clicks": ["d1"] if i % 3 else []}) + "\n" for i in range(40))
    (tmp_path / "log.jsonl").write_text(rows, encoding="utf-8")
    for flag, value, message in [("--success-k", "0", cases[0][2]), ("--control-share", "1", cases[1][2]),
                                 ("--long-click", "-1", cases[2][2])]:
        result = CliRunner().invoke(main, ["ab", "analyze", str(tmp_path / "log.jsonl"), flag, value])
        assert result.exit_code == 2, result.output
        assert result.output.strip() == f"error: {message}"
    with pytest.raises(InputError, match="knn_k must be an integer between 1 and 10,000, got 0"):
        CompareConfig(knn_k=0).check()                                   # a library-only setting: its field name


def test_a_range_says_what_it_holds():
    assert Range(0, 1, open_low=True, open_high=True).holds(0.5)
    assert not any(Range(0, 1, open_low=True).holds(v) for v in (0, 1.5, float("nan"), True, "0.5"))
    assert Range(1, integer=True).holds(3)
    assert not Range(1, integer=True).holds(3.0)
    assert Range(-1, 1).words() == "between -1 and 1"
    assert Range(high=2, open_high=True).words() == "a number < 2"


def test_help_imports_none_of_torch_scipy_sklearn_transformers():
    """Every command's --help (the whole tree, walked; eval's kinds are derived from every task module) loads none
    of the heavy packages."""
    code = ("import sys, click\nfrom spacekit.cli import main\n"
            "def walk(cmd, path):\n"
            "    yield path\n"
            "    for name, sub in getattr(cmd, 'commands', {}).items():\n"
            "        yield from walk(sub, [*path, name])\n"
            "paths = list(walk(main, []))\n"
            "for path in paths:\n"
            "    try:\n        main([*path, '--help'])\n    except SystemExit:\n        pass\n"
            "print(len(paths), sorted(m for m in ('torch', 'scipy', 'sklearn', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    count, heavy = out.strip().splitlines()[-1].split(" ", 1)
    assert int(count) > 15
    assert heavy == "[]"
