"""Which prompt a text is encoded with: the user's choice (CLI, suite), else the model's own prompts, resolved as
sentence-transformers' encode_query / encode_document / encode resolve them.

Roles: "query" and "document" (retrieval's two sides), None for every other text (STS, classification, ...).
A query takes the model's "query" prompt; a document the first of its "document", "passage", "corpus" prompts;
a role the model has no prompt for, and every other text, takes the default prompt (default_prompt_name), else none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace

from spacekit.embed.st_config import ModelConfig
from spacekit.errors import InputError

log = logging.getLogger("spacekit")
ROLE_PROMPTS = {"query": ("query",), "document": ("document", "passage", "corpus")}


@dataclass(frozen=True)
class Prompt:
    """A prompt as a user names it: literal text, or the name of one of the model's prompts."""

    text: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.text is not None and self.name is not None:
            raise InputError(f"give a prompt as text or as a name, not both (text {self.text!r}, name {self.name!r})")

    def resolve(self, config: ModelConfig) -> str:
        """The prompt's text (a name is looked up in the model's prompts)."""
        if self.text is not None:
            return self.text
        prompts = config.prompt_texts
        if self.name not in prompts:
            raise InputError(f"prompt name {self.name!r} is not one of the model's prompts "
                             f"({', '.join(prompts) or 'it has none'})")
        return prompts[self.name]


@dataclass(frozen=True)
class PromptChoice:
    """The user's prompts per role (None: the model's own): queries, documents, and every other text."""

    query: Prompt | None = None
    document: Prompt | None = None
    default: Prompt | None = None

    def over(self, base: PromptChoice) -> PromptChoice:
        """These choices, falling back to base's where none is made here."""
        return replace(base, **{f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)})

    @classmethod
    def from_options(cls, options: dict) -> PromptChoice:
        """From CLI options or suite keys: prompt / prompt_name, query_prompt / query_prompt_name,
        document_prompt / document_prompt_name (absent or None: no choice)."""
        def one(prefix: str) -> Prompt | None:
            text, name = options.get(f"{prefix}prompt"), options.get(f"{prefix}prompt_name")
            return Prompt(text, name) if text is not None or name is not None else None
        return cls(one("query_"), one("document_"), one(""))

    def describe(self) -> dict:
        """The choices made, for a report: role -> {"text"} or {"name"}."""
        return {f.name: {k: v for k, v in vars(p).items() if v is not None}
                for f in fields(self) if (p := getattr(self, f.name)) is not None}


PROMPT_KEYS = ("prompt", "prompt_name", "query_prompt", "query_prompt_name", "document_prompt",
               "document_prompt_name")


def resolve_prompt(config: ModelConfig, role: str | None, choice: PromptChoice | None = None) -> str:
    """The prompt text for a role (see the module docstring); the user's choice first."""
    choice = choice or PromptChoice()
    chosen = {"query": choice.query, "document": choice.document}.get(role or "")
    if chosen is not None:
        return chosen.resolve(config)
    prompts = config.prompt_texts
    own = next((n for n in ROLE_PROMPTS.get(role or "", ()) if n in prompts), None)
    if own is not None:
        if role == "document" and own != "document":
            log.warning("documents take the model's %r prompt (sentence-transformers 6.x's encode_document would "
                        "use an empty 'document' placeholder instead)", own)
        return prompts[own]
    if choice.default is not None:
        return choice.default.resolve(config)
    text = prompts[config.default_prompt_name] if config.default_prompt_name else ""
    if role and text:
        log.warning("%ss take the model's default prompt %r (the model has no %r prompt; sentence-transformers 6.x "
                    "would use none)", role, config.default_prompt_name, role)
    return text
