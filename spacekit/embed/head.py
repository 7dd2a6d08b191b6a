"""From token states to one vector per text, as sentence-transformers' modules compute it: Pooling (every mode,
prompt tokens left out when include_prompt is false), then Dense, LayerNorm and Normalize in modules.json's order.
Module weights load from safetensors, or through torch's weights-only loader (a pickle never runs code)."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from spacekit.embed.st_config import HeadStep, ModelConfig, read_object
from spacekit.errors import InputError


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str, prompt_length: int = 0) -> torch.Tensor:
    """(b, t, d) hidden states + (b, t) 0/1 mask -> (b, d), as sentence-transformers' Pooling module (left or
    right padding); the first prompt_length tokens of each text are left out when given."""
    original = mask
    if prompt_length:
        mask = _without_prompt(mask, prompt_length)
    m = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":
        first = mask.to(torch.int).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), first]
    if mode == "max":
        return hidden.masked_fill(m == 0, float("-inf")).max(dim=1).values
    if mode == "last":
        values, back = mask.flip(1).max(1)
        back = torch.where(values == 0, mask.shape[1] - 1, back)
        return (hidden * m)[torch.arange(hidden.shape[0], device=hidden.device), mask.shape[1] - back - 1]
    if mode == "weightedmean":
        weights = torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype).view(1, -1, 1)
        weights = weights - original.to(torch.int32).argmax(dim=1).view(-1, 1, 1)
        weighted = m * weights
        return (hidden * weighted).sum(1) / weighted.sum(1).clamp(min=1e-9)
    count = m.sum(1).clamp(min=1e-9)
    return (hidden * m).sum(1) / (count.sqrt() if mode == "mean_sqrt_len" else count)


def _without_prompt(mask: torch.Tensor, prompt_length: int) -> torch.Tensor:
    """The mask with each text's first prompt_length tokens (after any left padding) set to 0."""
    mask = mask.clone()
    pad = mask.to(torch.int32).argmax(dim=1)
    positions = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0)
    mask[positions < (pad + prompt_length).unsqueeze(1)] = 0
    return mask


class Head(torch.nn.Module):
    """The modules after pooling, in order (empty for a model that ends at its pooling)."""

    def __init__(self, path: Path, config: ModelConfig):
        super().__init__()
        self.steps = torch.nn.ModuleList(_module(path, step) for step in config.head)

    def forward(self, vec: torch.Tensor) -> torch.Tensor:
        """(b, d) pooled vectors -> (b, d') vectors."""
        for step in self.steps:
            vec = step(vec)
        return vec

    def dim(self, pooled_dim: int) -> int:
        """The vectors' dimension after the head, given the pooled one."""
        for step in self.steps:
            if isinstance(step, Dense):
                pooled_dim = step.linear.out_features
        return pooled_dim


class Dense(torch.nn.Module):
    """sentence-transformers' Dense: activation(linear(x)), plus x (or its projection) when use_residual."""

    def __init__(self, linear: torch.nn.Linear, activation: torch.nn.Module, residual: torch.nn.Module | None):
        super().__init__()
        self.linear, self.activation, self.residual = linear, activation, residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One dense step."""
        out = self.activation(self.linear(x))
        return out if self.residual is None else out + self.residual(x)


class Normalize(torch.nn.Module):
    """L2 normalisation, as sentence-transformers' Normalize."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-length rows."""
        return torch.nn.functional.normalize(x, p=2, dim=1)


def _module(path: Path, step: HeadStep) -> torch.nn.Module:
    if step.kind == "normalize":
        return Normalize()
    folder = path / step.folder
    cfg = read_object(folder / "config.json")
    weights = _weights(folder)
    try:
        if step.kind == "layer_norm":
            norm = torch.nn.LayerNorm(int(cfg["dimension"]))
            norm.load_state_dict({k.removeprefix("norm."): v for k, v in weights.items()})
            return norm
        if cfg.get("module_input_name", "sentence_embedding") != "sentence_embedding" or \
                cfg.get("module_output_name") not in (None, "sentence_embedding"):
            raise InputError(f"{folder}/config.json: a Dense module on other features than the sentence embedding "
                             f"is not supported")
        linear = torch.nn.Linear(int(cfg["in_features"]), int(cfg["out_features"]), bias=bool(cfg.get("bias", True)))
        linear.load_state_dict({k.removeprefix("linear."): v for k, v in weights.items() if k.startswith("linear.")})
        residual: torch.nn.Module | None = None
        if cfg.get("use_residual"):
            residual = torch.nn.Identity()
            if linear.in_features != linear.out_features:
                residual = torch.nn.Linear(linear.in_features, linear.out_features, bias=False)
                residual.load_state_dict({"weight": weights["residual.weight"]})
        return Dense(linear, _activation(folder, step.activation), residual)
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        raise InputError(f"{folder}: {step.kind} module does not match its weights ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else e!r})") from None


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    """A module's weights: model.safetensors, else pytorch_model.bin through the weights-only unpickler."""
    try:
        if (folder / "model.safetensors").is_file():
            from safetensors.torch import load_file

            return load_file(folder / "model.safetensors")
        if (folder / "pytorch_model.bin").is_file():
            return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    except Exception as e:  # safetensors and the weights-only unpickler raise several kinds for a bad file
        raise InputError(f"{folder}: unreadable module weights ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from None
    raise InputError(f"{folder}: no module weights (model.safetensors or pytorch_model.bin)")


def _activation(folder: Path, name: str) -> torch.nn.Module:
    """The activation module a Dense config names: a torch.nn module class, nothing else."""
    module_name, _, cls_name = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError, ValueError):
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise InputError(f"{folder}/config.json: activation_function {name!r} is not a torch.nn module class")
    return cls()
