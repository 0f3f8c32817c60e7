"""Model names as people write them -> a zoo model, plus the precision the name announces.

Rules (`candidate_spellings` lists the spellings tried, in order; the first known one wins):

1. The name as written (zoo names and their aliases, then the alias table
   `engine/data/model_aliases.csv`, whose rows say why a spelling maps where it does).
2. Without a Hugging Face organisation (``meta-llama/Llama-2-7b-hf`` -> ``Llama-2-7b-hf``).
3. Without a file extension (``.gguf``, ``.ggml``, ``.bin``, ``.safetensors``) and without
   quantization / packaging words as separate segments (``Q4_K_M``, ``IQ4_XS``, ``f16``, ``GPTQ``,
   ``AWQ``, ``GGUF``, ``int8``, ``4bit`` ...). The first one that names a number format is returned
   as `precision_hint` (lower case, e.g. ``q4_k_m``, ``gptq``, ``fp16``); interpreting it is the
   caller's job, the name only reports it.
4. Without fine-tune / packaging words that do not change the architecture (``-hf``,
   ``-instruct``, ``-chat``, ``-it``) and without a leading ``Meta-`` (``Meta-Llama-3-8B``).

Anything else is an error naming the closest zoo models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Mapping

from phantom_report.engine.alias_table import AliasEntry, read_alias_table
from phantom_report.errors import ModelError
from phantom_report.gpu_naming import name_key

_EXTENSIONS = (".gguf", ".ggml", ".bin", ".safetensors")
# quantization / packaging words, only as whole segments between - _ . (so 'qwen' or 'q-former' stay)
_QUANT_RE = re.compile(
    r"(?:^|(?<=[-_.]))(i?q[1-8](?:_[0-9a-z]{1,2}){0,2}|f16|f32|bf16|fp16|fp32|fp8|int4|int8|[48]bit|"
    r"w4a16|w8a8|awq|gptq|gguf|ggml(?:v\d)?|exl2|mlx)(?=$|[-_.])", re.IGNORECASE)
_FORMAT_ONLY = {"gguf", "ggml", "exl2", "mlx"}  # containers, not a number format
_PRECISION_SYNONYMS = {"f16": "fp16", "f32": "fp32"}
_FINETUNE_RE = re.compile(r"[-_.](hf|instruct|chat|it)(?=$|[-_.])", re.IGNORECASE)


@dataclass(frozen=True)
class ModelResolution:
    """How a written model name was resolved; `via`: name | alias | alias table | normalized."""

    query: str
    canonical: str
    via: str
    precision_hint: str = ""  # quantization the name announces ('q4_k_m', 'gptq', 'fp16'); '' if none
    note: str = ""

    def explain(self) -> str:
        """One line for humans."""
        hint = f"; the name announces precision {self.precision_hint}" if self.precision_hint else ""
        note = f"; {self.note}" if self.note else ""
        return f"{self.query!r} -> {self.canonical} ({self.via}{note}{hint})"


def model_alias_path() -> Path:
    """Path of the shipped model alias table (engine/data/model_aliases.csv)."""
    return Path(str(resources.files("phantom_report.engine").joinpath("data/model_aliases.csv")))


@cache
def builtin_model_aliases() -> Mapping[str, AliasEntry]:
    """The model alias table keyed by `name_key(alias)`."""
    return read_alias_table(model_alias_path(), ModelError, "model")


def split_quantization(name: str) -> tuple[str, str]:
    """('llama-2-7b', 'q4_k_m') for 'llama-2-7b.Q4_K_M.gguf': the name without quantization /
    packaging segments, and the first number format it names ('' if none)."""
    text = name.strip()
    for ext in _EXTENSIONS:
        if text.lower().endswith(ext):
            text = text[: -len(ext)]
    hint = ""
    for m in _QUANT_RE.finditer(text):
        word = m.group(1).lower()
        if not hint and word.rstrip("v0123456789") not in _FORMAT_ONLY:
            hint = _PRECISION_SYNONYMS.get(word, word)
    stripped = _QUANT_RE.sub("", text)
    stripped = re.sub(r"[-_.]{2,}", "-", stripped).strip("-_.")
    return stripped or text, hint


def candidate_spellings(name: str) -> tuple[list[str], str]:
    """Spellings to try for a written model name, in order, and the precision hint it carries."""
    spellings = [name.strip()]
    bare = spellings[0].rsplit("/", 1)[-1]
    spellings.append(bare)
    unquantized, hint = split_quantization(bare)
    spellings.append(unquantized)
    plain = _FINETUNE_RE.sub("", unquantized)
    spellings.append(plain)
    for s in (unquantized, plain):
        if s.lower().startswith("meta-"):
            spellings.append(s[5:])
    return list(dict.fromkeys(s for s in spellings if s)), hint


def resolve_model_name(name: str, index: Mapping[str, str], aliases: Mapping[str, AliasEntry] | None = None
                       ) -> ModelResolution | None:
    """Zoo model for a written name, or None when no rule applies (the caller builds the error).

    `index`: name_key(zoo name or alias) -> zoo name."""
    aliases = builtin_model_aliases() if aliases is None else aliases
    spellings, hint = candidate_spellings(name)
    for i, spelling in enumerate(spellings):
        key = name_key(spelling)
        if key in index:
            canonical = index[key]
            via = "name" if key == name_key(canonical) else "alias"
            return ModelResolution(name, canonical, via if i == 0 else "normalized", hint,
                                   note="" if i == 0 else f"read as {spelling!r}")
        if key in aliases:
            entry = aliases[key]
            if name_key(entry.canonical) not in index:
                raise ModelError(f"model alias table maps {spelling!r} to {entry.canonical!r}, which is not in the zoo")
            return ModelResolution(name, index[name_key(entry.canonical)], "alias table", hint, note=entry.rationale)
    return None


def last_spelling(name: str) -> str:
    """The most reduced spelling of a name (for 'did you mean' suggestions)."""
    spellings = candidate_spellings(name)[0]
    return spellings[-1] if spellings else name
