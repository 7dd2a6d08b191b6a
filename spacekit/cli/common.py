"""Pieces every CLI command shares: error mapping, option groups, JSON and table output."""

from __future__ import annotations

import errno
import json

import click

from spacekit.errors import InputError
from spacekit.escape import plain


class BadInput(click.ClickException):
    """Bad input: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        """One line on stderr: 'error: ' and the message."""
        click.echo(f"error: {plain(self.message)}", err=True)          # one line (breaks escaped), nothing sent raw


class Cli(click.Group):
    """Maps spacekit's InputError, and the operating system's refusals (a full disk, a read-only folder, a file
    too large, no permission), to one line and exit code 2 for every subcommand (one place)."""

    def invoke(self, ctx):
        """Run the subcommand; an InputError or an OSError of the file system becomes BadInput."""
        try:
            return super().invoke(ctx)
        except InputError as e:
            raise BadInput(str(e)) from None
        except OSError as e:
            if e.errno not in OS_FAULTS:
                raise
            raise BadInput(os_fault(e)) from None


OS_FAULTS = {errno.ENOSPC: "no space left on the device: free some, or write elsewhere",
             errno.EFBIG: "file too large for this system's limit (ulimit -f?): write elsewhere",
             errno.EROFS: "read-only file system: write elsewhere (-o, --cache-dir)",
             errno.EACCES: "permission denied: write elsewhere, or change the folder's permissions",
             errno.EDQUOT: "disk quota exceeded: free some, or write elsewhere"}


def os_fault(e: OSError) -> str:
    """One line for an OSError of the file system: the path and what to do (the files spacekit writes are written
    to a temporary name and renamed, so none is left half-written)."""
    where = e.filename or "a file"
    return f"{where}: {OS_FAULTS.get(e.errno or 0, e.strerror or str(e))}"


def emit_json(obj: object) -> None:
    """One JSON object (a dict or a typed record) on stdout, undefined values as null."""
    from spacekit.records import to_json

    click.echo(json.dumps(to_json(obj), indent=1, allow_nan=False))


def setting_option(cls: type, name: str, **more):
    """The option of a config dataclass's Setting field (spacekit.settings): its flag, type, default, help and range
    are declared once, on the field; a value out of range is one line, exit 2."""
    from spacekit.settings import setting_specs

    spec = setting_specs(cls)[name]
    choices = spec.setting.choices

    def check(ctx, param, value):
        problem = spec.problem(value)
        if problem is not None:
            raise InputError(problem)
        return value

    return click.option(spec.flag, name, type=spec.type, default=spec.default, show_default=True, callback=check,
                        help=spec.setting.help + (f": {' | '.join(choices)}" if choices else ""), **more)


def renamed_option(old: str, new: str, dest: str):
    """A hidden option under a former name, kept for one release: its value goes to `dest` with a warning to use
    the new name (the command reads it through renamed_value)."""
    return click.option(old, f"{dest}_former_name", type=int, default=None, hidden=True,
                        help=f"former name of {new}")


def renamed_value(opts: dict, dest: str, old: str, new: str):
    """The value given under the former name (with a warning on stderr), else the new option's."""
    former = opts.pop(f"{dest}_former_name", None)
    if former is None:
        return opts.pop(dest)
    opts.pop(dest)
    click.echo(f"warning: {old} is now {new}; {old} goes away in the next release", err=True)
    return former


def min_effect_option(ctx, param, value: str | None) -> dict[str, float]:
    """--min-effect's callback (compare, ab analyze): 'METRIC=MARGIN,...' parsed, a bad part one line."""
    from spacekit.practical import parse_min_effect

    try:
        return parse_min_effect(value or "")
    except ValueError as e:
        raise InputError(f"--min-effect: {e}") from None


def device_options(f):
    """--device / --dtype / --batch-tokens, shared by every command that encodes."""
    f = click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N]")(f)
    f = click.option("--dtype", default="fp32", show_default=True,
                     help="fp32 | bf16 | fp16 (GPU) | auto: bf16 on a GPU or a CPU with AMX, else fp32")(f)
    f = click.option("--batch-tokens", type=int, default=None, help="tokens per forward batch")(f)
    return f


def ray_options(what: str):
    """--ray / --workers / --gpus-per-worker: `what` runs on a Ray cluster."""
    def add(f):
        f = click.option("--gpus-per-worker", type=float, default=None,
                         help="GPUs each Ray worker holds (default: 1 when the cluster has GPUs, else 0)")(f)
        f = click.option("--workers", type=int, default=None,
                         help="Ray workers (default: one per GPU of the cluster, else one per CPU)")(f)
        f = click.option("--ray", "ray_address", default=None,
                         help=f"{what} on a Ray cluster: local (one sized to this machine) | auto (RAY_ADDRESS) | "
                              f"HOST:PORT")(f)
        return f
    return add


def ray_settings(ray_address: str | None, workers: int | None, gpus_per_worker: float | None,
                 trust_remote_code: bool = False, **more):
    """RaySettings from the options, or None without --ray."""
    if ray_address is None:
        return None
    from spacekit.distributed.cluster import RaySettings

    return RaySettings(ray_address, workers, gpus_per_worker, trust_remote_code=trust_remote_code, **more)


def cache_options(f):
    """--cache-dir / --no-cache."""
    f = click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                     help="embedding cache folder (default $SPACEKIT_CACHE or ~/.cache/spacekit)")(f)
    f = click.option("--no-cache", is_flag=True, help="encode without reading or writing the cache")(f)
    return f


def encode_request(device: str, dtype: str, batch_tokens: int | None) -> dict:
    """device, dtype and batch_tokens from the CLI options, checked (backend.Placement.resolve) with --dtype auto
    resolved here and the choice said on stderr."""
    from spacekit.backend import Placement

    if batch_tokens is not None and batch_tokens < 1:
        raise InputError(f"--batch-tokens must be >= 1, got {batch_tokens}")
    placement = Placement.resolve(device, dtype, batch_tokens)
    if dtype.lower() == "auto":
        click.echo(f"--dtype auto: {placement.precision} on {placement.device}", err=True)
    return {"device": device, "dtype": placement.precision, "batch_tokens": batch_tokens}


def prompt_options(roles: bool = False):
    """--prompt / --prompt-name, and with roles (retrieval, compare) --query-prompt[-name] and
    --document-prompt[-name]; --trust-remote-code. Without them each model's own prompts apply."""
    def add(f):
        f = click.option("--trust-remote-code", is_flag=True,
                         help="run code a model folder carries (auto_map); refused otherwise")(f)
        sides = [("query_", "queries"), ("document_", "documents")] if roles else []
        for prefix, what in [*sides, ("", "texts" if not roles else "other texts")]:
            flag = prefix.replace("_", "-")
            f = click.option(f"--{flag}prompt-name", f"{prefix}prompt_name", default=None,
                             help=f"encode {what} with this prompt of the model's")(f)
            f = click.option(f"--{flag}prompt", f"{prefix}prompt", default=None,
                             help=f"encode {what} after this text")(f)
        return f
    return add


def encode_options(device: str, dtype: str, batch_tokens: int | None, cache_dir: str | None = None,
                   no_cache: bool = False, **prompts):
    """EncodeOptions from the shared CLI options (prompt options included; --trust-remote-code is not one)."""
    from spacekit.embed.options import EncodeOptions
    from spacekit.embed.prompts import PromptChoice

    prompts.pop("trust_remote_code", None)
    return EncodeOptions(**encode_request(device, dtype, batch_tokens), cache_dir=cache_dir, use_cache=not no_cache,
                         prompts=PromptChoice.from_options(prompts))


def model_and_options(model: str, **opts):
    """(the model MODEL names, its EncodeOptions) from the shared CLI options."""
    from spacekit.embed import load_model

    return load_model(model, trust_remote_code=opts.get("trust_remote_code", False)), encode_options(**opts)


def print_metrics(obj: dict, highlight: tuple[str, ...] = ()) -> None:
    """A small rich table of metrics (values unrounded in JSON; 5 decimals here); data strings as plain Text."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    console.print(Text(plain(f"{obj['task']} · {obj['model']} · {obj['dataset']} · n={obj['n']}")), soft_wrap=True)
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in obj["metrics"].items():
        style = "bold" if highlight and name in highlight else None
        table.add_row(Text(plain(name)), f"{value:.5f}", style=style)
    console.print(table)
    extras = {k: v for k, v in obj.items() if k not in {"task", "model", "dataset", "n", "metrics"}}
    if extras:
        console.print(Text(plain(", ".join(f"{k}: {v}" for k, v in extras.items()))))
