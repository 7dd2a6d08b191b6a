"""`spacekit eval <kind>` for a kind without a command of its own, derived from the kind's Option fields: MODEL,
its first required path as an argument, every other option as --name (default and help from the field), --json,
the device, cache and prompt options, and MTEB's options when the kind has an MTEB format. So a new kind needs no
line here: its file in spacekit/tasks/ is its command too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from spacekit.cli.common import cache_options, device_options, model_and_options, prompt_options
from spacekit.cli.mteb import MtebIO, mteb_options
from spacekit.errors import InputError
from spacekit.tasks import Task
from spacekit.tasks.base import run_checked
from spacekit.tasks.options import OptionSpec, option_specs


def command_name(kind: str) -> str:
    """The kind's eval command: its name with dashes (pair_classification -> pair-classification)."""
    return kind.replace("_", "-")


def kind_command(cls: type[Task], show: Callable[..., None]) -> click.Command:
    """The eval command of a kind (show: prints a result as eval's other commands do)."""
    specs = option_specs(cls)
    argument = next((s for s in specs if s.required and s.path), None)
    scalar = {str, int, float, bool}
    unsupported = [s.name for s in specs if s.toml not in scalar]
    if unsupported:
        raise TypeError(f"{cls.kind}: options {unsupported} need a command of their own in spacekit/cli/eval.py")

    def callback(model: str, as_json: bool, **opts: Any) -> None:
        mteb = MtebIO.pop(opts) if cls.mteb is not None else None
        given = {s.name: opts.pop(s.name) for s in specs if s.name in opts}
        try:
            task = cls(**{k: v for k, v in given.items() if v is not None})
        except TypeError as e:                                       # a required option left out
            raise InputError(f"eval {command_name(cls.kind)}: {e}") from None
        show(run_checked(task, *model_and_options(model, **opts)), as_json, tuple(cls.default_metrics[:1]), mteb=mteb)

    f: Any = callback
    if cls.mteb is not None:
        f = mteb_options(f)
    f = prompt_options()(cache_options(device_options(f)))
    f = click.option("--json", "as_json", is_flag=True)(f)
    for spec in reversed([s for s in specs if s is not argument]):
        f = _option(spec)(f)
    if argument is not None:
        f = click.argument(argument.name, type=click.Path())(f)
    f = click.argument("model")(f)
    doc = (cls.__doc__ or cls.kind).strip().splitlines()[0]
    return click.command(command_name(cls.kind), help=f"{doc} (derived from the kind's options)")(f)


def _option(spec: OptionSpec):
    """One --name option of a kind (a path: a click.Path; required: required)."""
    kind = click.Path() if spec.path else spec.toml
    if spec.toml is bool:
        return click.option(f"--{spec.name.replace('_', '-')}", spec.name, is_flag=True, default=spec.default,
                            help=spec.help)
    return click.option(f"--{spec.name.replace('_', '-')}", spec.name, type=kind, required=spec.required,
                        default=None if spec.required else spec.default,
                        show_default=not spec.required and spec.default is not None, help=spec.help)
