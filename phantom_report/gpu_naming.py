"""GPU names as people write them -> (family, form factor, memory), with no knowledge of profiles.

Pure string rules shared by the engine (profiles.py / gpu_names.py, which match the parsed name
against the GPU profiles) and pricing (gpu_names.py, which matches it against its canonical list).
Both layers may import this module; it imports nothing from either, so the one-way rule (engine and
pricing never import each other) holds.

The rules, in order (see `parse_gpu_name`):

1. Text in square brackets wins when present: tools such as rocm-smi and pci.ids print
   ``Arcturus GL-XL [AMD Instinct MI100]``, whose bracket is the marketing name. Text in
   parentheses is a note (``V100 32GB (DGX-2H)``, ``A6000 (48GB VRAM)``) and is dropped.
2. Lower-case and split on anything that is not a letter or digit. A form factor glued to the
   model (``H100NVL``, ``H100SXM5``) is split off.
3. Each word is classified:
   - vendor words (nvidia, amd, ati) set the vendor and are dropped;
   - brand words (tesla, geforce, quadro, radeon, instinct) are dropped (they never tell two
     products apart); ``rtx`` / ``gtx`` are dropped only in front of another word, because
     ``Titan RTX`` is a product of its own while ``RTX 4090`` is the 4090;
   - a memory size (``80GB``, ``80G``, ``16GiB``) sets memory_gb (the first one wins: a second one
     is a system figure such as GH200's LPDDR);
   - a form factor (sxm, sxm2..sxm6, hgx -> sxm; pcie, pci, pcie4/5 -> pcie; nvl -> nvl; oam)
     sets the form factor; NVL beats PCIe (an H100 NVL *is* a PCIe card, but NVL names the part);
   - filler is dropped: memory types (hbm*, gddr*, lpddr*), power (``700W``), PCIe generations
     (``Gen5``), marketing words (generation, tensor, core, gpu, accelerator, graphics, card),
     architecture names that never decide (volta, turing, ampere, hopper, pascal, lovelace),
     system words (dgx, nvl72, nvl36) and partition modes (nps1, spx, cpx);
   - every other word is part of the family, in the order written: ``RTX 6000 Ada Generation``
     -> family ``6000ada``; ``GeForce RTX 3080 Ti`` -> ``3080ti``; ``MI-250X`` -> ``mi250x``.

A canonical profile name goes through the same rules, so profiles added later (``A800-80GB-SXM``,
``RTX-3080-Ti``) are matched with no code change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VENDOR_WORDS = {"nvidia": "nvidia", "amd": "amd", "ati": "amd"}
# brand words: which vendor they imply; they never distinguish two products
BRAND_WORDS = {"tesla": "nvidia", "geforce": "nvidia", "quadro": "nvidia", "radeon": "amd", "instinct": "amd"}
# dropped only when another word follows ("RTX 4090"), kept at the end ("Titan RTX")
PREFIX_ONLY_BRANDS = {"rtx": "nvidia", "gtx": "nvidia"}
FORM_WORDS = {
    "sxm": "sxm", "sxm2": "sxm", "sxm3": "sxm", "sxm4": "sxm", "sxm5": "sxm", "sxm6": "sxm", "hgx": "sxm",
    "pcie": "pcie", "pci": "pcie", "pcie4": "pcie", "pcie5": "pcie", "nvl": "nvl", "oam": "oam",
    "superchip": "superchip",
}
FILLER_WORDS = frozenset({
    "hbm", "hbm2", "hbm2e", "hbm3", "hbm3e", "gddr5", "gddr5x", "gddr6", "gddr6x", "gddr7", "lpddr5x",
    "vram", "ecc", "grace", "generation", "tensor", "core", "gpu", "gpus", "accelerator", "graphics", "card",
    "volta", "turing", "ampere", "hopper", "pascal", "lovelace", "dgx", "nvl72", "nvl36", "spx", "cpx",
    "dpx", "qpx", "express",
})
_MEMORY_RE = re.compile(r"^(\d+(?:\.\d+)?)(gb|g|gib)$")
_FILLER_RE = re.compile(r"^(\d+w|gen\d|nps\d)$")
# a form factor glued to the model number: 'h100nvl', 'h100sxm5', 'a100pcie'
_GLUED_FORM_RE = re.compile(r"^([a-z]*\d+[a-z]?)(sxm\d?|pcie|nvl)$")

# the form-factor classes a profile's `form_factor` field may hold, mapped like the words above
FORM_FACTOR_LABEL = {"sxm": "SXM", "pcie": "PCIe", "nvl": "NVL", "oam": "OAM", "superchip": "superchip"}


def name_key(name: str) -> str:
    """Case-, space- and punctuation-insensitive key: 'H100 SXM' == 'h100-sxm' == 'H100_SXM'."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def vendorless_key(name: str) -> str:
    """`name_key` without vendor and brand words: 'NVIDIA GH200 480GB' -> 'gh200480gb', so a profile
    alias written without the vendor matches the vendor's own spelling (and the reverse)."""
    words = re.split(r"[^a-z0-9]+", name.lower())
    return "".join(w for w in words if w not in VENDOR_WORDS and w not in BRAND_WORDS)


@dataclass(frozen=True)
class ParsedGpuName:
    """What a GPU name says: family words, and form factor / memory / vendor when it states them."""

    family: str                 # family words joined: 'a100', '4090', '6000ada', 'mi300x' ('' = none)
    form_factor: str = ""       # '' (not stated) | 'sxm' | 'pcie' | 'nvl' | 'oam' | 'superchip'
    memory_gb: float | None = None
    vendor: str = ""            # '' (not stated) | 'nvidia' | 'amd'
    form_word: str = field(default="", compare=False)  # the form-factor word as written: 'sxm2', 'pcie'

    def describe(self) -> str:
        """'A100, PCIe, 40 GB': how the name was read, for error messages."""
        parts = [self.family.upper() or "?"]
        if self.form_factor:
            parts.append(FORM_FACTOR_LABEL.get(self.form_factor, self.form_factor))
        if self.memory_gb is not None:
            parts.append(f"{self.memory_gb:g} GB")
        return ", ".join(parts)


def form_factor_class(text: str) -> str:
    """Class of a form-factor word or profile field: 'sxm4' -> 'sxm', 'PCIe' -> 'pcie'; '' if unknown."""
    return FORM_WORDS.get(name_key(text), "")


def _words(name: str) -> list[str]:
    bracket = re.findall(r"\[([^\]]*)\]", name)
    text = bracket[-1] if bracket else name
    text = re.sub(r"\([^)]*\)", " ", text)
    words: list[str] = []
    for word in re.split(r"[^a-z0-9]+", text.lower()):
        glued = _GLUED_FORM_RE.match(word)
        if glued and glued.group(1) not in FORM_WORDS:
            words.extend(glued.groups())
        elif word:
            words.append(word)
    return words


def parse_gpu_name(name: str) -> ParsedGpuName:
    """Read a GPU name as written (nvidia-smi, cloud consoles, vendor pages, benchmark tables)."""
    words = _words(name)
    family: list[str] = []
    form, form_word, memory, vendor = "", "", None, ""
    for i, word in enumerate(words):
        if word in VENDOR_WORDS:
            vendor = vendor or VENDOR_WORDS[word]
        elif word in BRAND_WORDS:
            vendor = vendor or BRAND_WORDS[word]
        elif word in PREFIX_ONLY_BRANDS and i + 1 < len(words):
            vendor = vendor or PREFIX_ONLY_BRANDS[word]
        elif m := _MEMORY_RE.match(word):
            memory = memory if memory is not None else float(m.group(1))
        elif word in FORM_WORDS:
            # NVL names the part; the PCIe word next to it only repeats the slot
            if form in ("", "pcie"):
                form, form_word = FORM_WORDS[word], word
        elif word in FILLER_WORDS or _FILLER_RE.match(word):
            continue
        else:
            family.append(word)
    return ParsedGpuName(family="".join(family), form_factor=form, memory_gb=memory, vendor=vendor, form_word=form_word)
