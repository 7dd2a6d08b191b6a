"""The sentence-transformers settings of a model folder, resolved as sentence-transformers 6.x resolves them.

modules.json lists the modules (Transformer, Pooling, then Dense / LayerNorm / Normalize in order);
sentence_bert_config.json (or its older names) holds max_seq_length, do_lower_case and the tokenizer's arguments;
config_sentence_transformers.json holds prompts, default_prompt_name and similarity_fn_name. The max length is
sentence_bert_config's max_seq_length when set, else the tokenizer's model_max_length capped at the model's
max_position_embeddings, as sentence-transformers' Transformer module does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from spacekit.errors import InputError

# the pooling modes, by the names sentence-transformers' Pooling config uses (old boolean keys, new pooling_mode)
LEGACY_POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                       "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
                       "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "last"}
POOLING_NAMES = {"cls": "cls", "max": "max", "mean": "mean", "mean_sqrt_len_tokens": "mean_sqrt_len",
                 "mean_sqrt_len": "mean_sqrt_len", "weightedmean": "weightedmean", "lasttoken": "last",
                 "last": "last"}
SIMILARITIES = ("cosine", "dot", "euclidean", "manhattan")
SBERT_CONFIG_NAMES = ("sentence_bert_config.json", "sentence_roberta_config.json", "sentence_distilbert_config.json",
                      "sentence_camembert_config.json", "sentence_albert_config.json",
                      "sentence_xlm-roberta_config.json", "sentence_xlnet_config.json")
HEAD_MODULES = {"Dense": "dense", "LayerNorm": "layer_norm", "Normalize": "normalize"}
# the kind of model a folder holds, by config_sentence_transformers.json's model_type
MODEL_TYPES = {"SentenceTransformer": "dense", "SparseEncoder": "sparse", "CrossEncoder": "cross-encoder",
               "MultiVectorEncoder": "multi-vector"}
SPARSE_MODULE_NAMES = {"SpladePooling", "MLMTransformer", "SparseStaticEmbedding", "SparseAutoEncoder"}
SPLADE_POOLINGS = ("max", "sum")
SPLADE_ACTIVATIONS = ("relu", "log1p_relu")
VERY_LARGE = int(1e20)  # a tokenizer without model_max_length has transformers' "no limit" (1e30)


@dataclass(frozen=True)
class HeadStep:
    """A module after pooling: dense (a linear layer and its activation), layer_norm, or normalize (L2)."""

    kind: str
    folder: str = ""
    activation: str = ""


@dataclass(frozen=True)
class Splade:
    """A sparse encoder's SpladePooling settings and the active dimensions it keeps (None: all)."""

    pooling: str = "max"
    activation: str = "relu"
    max_active_dims: int | None = None


@dataclass(frozen=True)
class ModelConfig:
    """Everything besides the weights that decides a vector (part of the cache key), and the model's prompts and
    similarity."""

    pooling: str = "mean"
    include_prompt: bool = True
    head: tuple[HeadStep, ...] = ()
    max_seq_length: int = 512
    lower_case: bool = False
    padding_side: str = "right"
    similarity: str = "cosine"
    prompts: tuple[tuple[str, str], ...] = ()
    default_prompt_name: str | None = None
    splade: Splade | None = None     # a sparse encoder's pooling (then `pooling` is "splade")

    @property
    def normalize(self) -> bool:
        """Whether vectors leave the model L2-normalised (its last module is Normalize)."""
        return bool(self.head) and self.head[-1].kind == "normalize"

    @property
    def prompt_texts(self) -> dict[str, str]:
        """The model's prompts, name -> text."""
        return dict(self.prompts)

    def vector_settings(self) -> dict:
        """The settings that shape a vector, for the cache key (prompts are keyed by the one applied)."""
        splade = {"splade": [self.splade.pooling, self.splade.activation, self.splade.max_active_dims]} \
            if self.splade else {}
        return {"pooling": self.pooling, "include_prompt": self.include_prompt,
                "head": [f"{s.kind}:{s.folder}:{s.activation}" for s in self.head],
                "max_seq_length": self.max_seq_length, "lower_case": self.lower_case,
                "padding_side": self.padding_side, **splade}

    def description(self) -> dict:
        """What a report shows about the model: max length, pooling, modules after pooling, similarity, prompts."""
        splade = {"splade_pooling": self.splade.pooling, "splade_activation": self.splade.activation,
                  "max_active_dims": self.splade.max_active_dims} if self.splade else {}
        return {"max_seq_length": self.max_seq_length, "pooling": self.pooling,
                "include_prompt": self.include_prompt, "head": [s.kind for s in self.head],
                "similarity": self.similarity, "prompts": self.prompt_texts,
                "default_prompt_name": self.default_prompt_name, **splade}


def read_json(path: Path) -> Any:
    """A model file's JSON; an unreadable one is an InputError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: unreadable model file ({e})") from None


def model_kind(path: Path) -> str:
    """The kind of model a folder holds: dense, sparse, cross-encoder or multi-vector (config_sentence_transformers'
    model_type, else a sparse module in modules.json, else a sequence-classification network without modules.json:
    a cross-encoder; else dense)."""
    st = path / "config_sentence_transformers.json"
    model_type = read_object(st).get("model_type") if st.is_file() else None
    if isinstance(model_type, str) and model_type in MODEL_TYPES:
        return MODEL_TYPES[model_type]
    if (path / "modules.json").is_file():
        names = {m.get("type", "").rsplit(".", 1)[-1] for m in module_entries(path)}
        return "sparse" if names & SPARSE_MODULE_NAMES else "dense"
    architectures = read_object(path / "config.json").get("architectures") if (path / "config.json").is_file() \
        else None
    if isinstance(architectures, list) and any(str(a).endswith("ForSequenceClassification") for a in architectures):
        return "cross-encoder"
    return "dense"


def is_routed(path: Path) -> bool:
    """Whether modules.json holds a Router (separate query and document modules)."""
    return (path / "modules.json").is_file() and any(
        m.get("type", "").rsplit(".", 1)[-1] == "Router" for m in module_entries(path))


def read_st_config(path: Path, kind: str = "dense") -> ModelConfig:
    """The folder's settings (see the module docstring); a plain transformers folder gets mean pooling, nothing
    after it, and the tokenizer's length. Every file's shape is checked (one InputError naming it). kind "sparse":
    a SparseEncoder's layout (a fill-mask Transformer, then SpladePooling), dot product unless it names another."""
    pooling, include_prompt, head, splade = "mean", True, [], None
    for module, folder in _modules(path, kind):
        if module == "Pooling":
            pooling, include_prompt = _pooling(path / folder / "config.json")
        elif module == "SpladePooling":
            pooling, splade = "splade", _splade(path / folder / "config.json")
        elif module == "Dense":
            head.append(HeadStep("dense", folder, _activation(path / folder / "config.json")))
        elif module in HEAD_MODULES:
            head.append(HeadStep(HEAD_MODULES[module], folder))
    sbert = next((path / n for n in SBERT_CONFIG_NAMES if (path / n).is_file()), None)
    settings = read_object(sbert) if sbert else {}
    _check_transformer_settings(sbert, settings, "fill-mask" if kind == "sparse" else "feature-extraction")
    tokenizer_args = {**_object(sbert, settings, "tokenizer_args"), **_object(sbert, settings, "processor_kwargs")}
    tok_file = path / "tokenizer_config.json"
    tok_config = read_object(tok_file) if tok_file.is_file() else {}
    st = path / "config_sentence_transformers.json"
    st_settings = read_object(st) if st.is_file() else {}
    if splade is not None:
        splade = Splade(splade.pooling, splade.activation, _max_active_dims(st, st_settings))
    return ModelConfig(
        pooling, include_prompt, tuple(head), _max_length(path, sbert, settings, tokenizer_args, tok_config),
        bool(settings.get("do_lower_case", False)),
        str(tokenizer_args.get("padding_side", tok_config.get("padding_side", "right"))),
        _similarity(st, st_settings, "dot" if kind == "sparse" else "cosine"), *_prompts(st, st_settings), splade)


def read_object(path: Path) -> dict:
    """A model file that must hold a JSON object."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def module_entries(path: Path) -> list[dict]:
    """modules.json's entries, each an object whose type and path are strings."""
    file = path / "modules.json"
    modules = read_json(file)
    if not isinstance(modules, list) or not all(
            isinstance(m, dict) and isinstance(m.get("type", ""), str) and isinstance(m.get("path", ""), str)
            for m in modules):
        raise InputError(f"{file}: expected a list of modules, each with a type and a path (strings)")
    return modules


def _modules(path: Path, kind: str = "dense") -> list[tuple[str, str]]:
    """(class name, folder) per module in modules.json: sentence-transformers' own modules that an embedding model
    (kind dense) or a SparseEncoder (kind sparse) uses, under their current or older import paths; anything else is
    an InputError naming it."""
    file = path / "modules.json"
    if not file.is_file():
        if kind == "sparse":
            raise InputError(f"{path}: a sparse encoder needs modules.json (a fill-mask Transformer, then "
                             f"SpladePooling)")
        return [("Transformer", "")]                                      # mean pooling, as sentence-transformers
    allowed = ("Transformer", "Pooling", *HEAD_MODULES) if kind == "dense" else ("Transformer", "SpladePooling")
    out = []
    for m in module_entries(path):
        module, folder = m.get("type", ""), m.get("path", "")
        name = module.rsplit(".", 1)[-1]
        name = "Transformer" if name == "MLMTransformer" and kind == "sparse" else name
        if not module.startswith("sentence_transformers."):
            raise InputError(f"{file}: module {module!r} is custom code; spacekit runs only sentence-transformers' "
                             f"own {', '.join(allowed)} modules")
        if name not in allowed:
            raise InputError(f"{file}: module {module!r} is not supported in a {kind} model (spacekit runs "
                             f"{', '.join(allowed)})")
        if ".." in Path(folder).parts or Path(folder).is_absolute():
            raise InputError(f"{file}: module path {folder!r} leaves the model folder")
        if name == "Transformer" and folder:
            raise InputError(f"{file}: a Transformer module in a subfolder ({folder!r}) is not supported")
        out.append((name, folder))
    pooling = "Pooling" if kind == "dense" else "SpladePooling"
    if [k for k, _ in out][:1] != ["Transformer"]:
        raise InputError(f"{file}: the first module must be the Transformer")
    if pooling not in [k for k, _ in out]:
        raise InputError(f"{file}: no {pooling} module (spacekit needs one vector per text)")
    return out


def _splade(cfg_file: Path) -> Splade:
    """A SpladePooling module's pooling strategy and activation (max and relu when it has no config)."""
    cfg = read_object(cfg_file) if cfg_file.is_file() else {}
    pooling, activation = cfg.get("pooling_strategy", "max"), cfg.get("activation_function", "relu")
    if pooling not in SPLADE_POOLINGS:
        raise InputError(f"{cfg_file}: pooling_strategy must be max or sum, got {pooling!r}")
    if activation not in SPLADE_ACTIVATIONS:
        raise InputError(f"{cfg_file}: activation_function must be relu or log1p_relu, got {activation!r}")
    return Splade(pooling, activation)


def _max_active_dims(file: Path, settings: dict) -> int | None:
    """A sparse encoder's max_active_dims (config_sentence_transformers.json; None: every dimension kept)."""
    value = settings.get("max_active_dims")
    if value is not None and (not _is_int(value) or value < 1):
        raise InputError(f"{file}: max_active_dims must be a positive integer, got {value!r}")
    return value


def _pooling(cfg_file: Path) -> tuple[str, bool]:
    """(pooling mode, include_prompt) from a Pooling module's config.json (mean, True when it has none)."""
    cfg = read_object(cfg_file) if cfg_file.is_file() else {}
    if "pooling_mode" in cfg:
        modes = cfg["pooling_mode"] if isinstance(cfg["pooling_mode"], list) else [cfg["pooling_mode"]]
    else:
        modes = [name for key, name in LEGACY_POOLING_KEYS.items() if cfg.get(key)] or ["mean"]
    if len(modes) > 1:
        raise InputError(f"{cfg_file}: several pooling modes at once ({modes}) are not supported")
    mode = POOLING_NAMES.get(modes[0]) if isinstance(modes[0], str) else None
    if mode is None:
        raise InputError(f"{cfg_file}: unknown pooling mode {modes[0]!r}")
    include = cfg.get("include_prompt", True)
    if not isinstance(include, bool):
        raise InputError(f"{cfg_file}: include_prompt must be true or false, got {include!r}")
    return mode, include


def _activation(cfg_file: Path) -> str:
    """A Dense module's activation: a torch.nn module class by its import path (Tanh when none is named, as
    sentence-transformers; an unknown one is an error, where sentence-transformers would fall back to Tanh)."""
    cfg = read_object(cfg_file) if cfg_file.is_file() else {}
    name = cfg.get("activation_function", "torch.nn.modules.activation.Tanh")
    if not isinstance(name, str) or not name.startswith("torch.nn."):
        raise InputError(f"{cfg_file}: activation_function {name!r} is not a torch.nn module (spacekit runs no "
                         f"other code)")
    return name


def _check_transformer_settings(file: Path | None, settings: dict, expected: str = "feature-extraction") -> None:
    """Settings spacekit cannot honour are refused by name: another task than the model kind's (feature extraction;
    a sparse encoder's fill-mask), chat-message inputs, or per-role lengths (multi-vector models)."""
    task = settings.get("transformer_task", expected)
    if task != expected:
        raise InputError(f"{file}: transformer_task {task!r} is not this kind of model's ({expected})")
    if "message" in (settings.get("modality_config") or {}):
        raise InputError(f"{file}: chat-message inputs (modality_config 'message') are not supported")
    for key in ("query_length", "document_length", "query_expansion"):
        if settings.get(key) is not None:
            raise InputError(f"{file}: {key} (a multi-vector setting) is not supported")


def _object(file: Path | None, settings: dict, key: str) -> dict:
    value = settings.get(key) or {}
    if not isinstance(value, dict):
        raise InputError(f"{file}: {key} must be an object, got {value!r}")
    return value


def _max_length(path: Path, sbert: Path | None, settings: dict, tokenizer_args: dict, tok_config: dict) -> int:
    """sentence_bert_config's max_seq_length, else the tokenizer's model_max_length (its arguments, then
    tokenizer_config.json) capped at max_position_embeddings when the tokenizer's own length is used."""
    positions = read_object(path / "config.json").get("max_position_embeddings")
    if settings.get("max_seq_length") is not None:
        length, source = settings["max_seq_length"], sbert
    elif tokenizer_args.get("model_max_length") is not None:
        length, source = tokenizer_args["model_max_length"], sbert
    else:
        length, source = tok_config.get("model_max_length", VERY_LARGE), path / "tokenizer_config.json"
        if isinstance(length, float) and length >= VERY_LARGE:
            length = VERY_LARGE
        if _is_int(positions) and positions != -1 and _is_int(length):
            length = min(length, positions)
    if not _is_int(length) or length < 1:
        raise InputError(f"{source}: max_seq_length must be a positive integer, got {length!r}")
    if _is_int(positions) and positions > 0 and length > positions:
        raise InputError(f"{source}: max_seq_length {length} is beyond the model's {positions} positions")
    if length >= VERY_LARGE:
        raise InputError(f"{path}: no max length (no max_seq_length, model_max_length or max_position_embeddings)")
    return length


def _similarity(file: Path, settings: dict, default: str = "cosine") -> str:
    value = settings.get("similarity_fn_name") or default
    if value not in SIMILARITIES:
        raise InputError(f"{file}: similarity_fn_name must be one of {', '.join(SIMILARITIES)}, got {value!r}")
    return value


def _prompts(file: Path, settings: dict) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """(prompts as (name, text) pairs, default_prompt_name), checked."""
    prompts = settings.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, str | None)
                                                for k, v in prompts.items()):
        raise InputError(f"{file}: prompts must be an object of name -> text")
    default = settings.get("default_prompt_name")
    if default is not None and default not in prompts:
        raise InputError(f"{file}: default_prompt_name {default!r} is not one of the prompts "
                         f"({', '.join(prompts) or 'none'})")
    return tuple((k, v or "") for k, v in prompts.items()), default


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
