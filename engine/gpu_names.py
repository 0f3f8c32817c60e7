"""GPU name -> profile: the one place a written GPU name is turned into a canonical profile name.

Order of the rules (first that applies wins; `ProfileCatalog.resolve` calls `resolve_gpu_name`):

1. **Exact name or profile alias** (case/punctuation-insensitive): the profile's `name` or one of
   its `aliases` (profiles/*.toml, and user profile directories).
2. **Alias table** (`engine/data/gpu_aliases.csv`, one row per spelling with its source and why it
   maps where it does): spellings the parser cannot derive (``T4G`` is the T4 chip) or where the
   source fixes what the name leaves open (GCP's ``nvidia-tesla-v100`` is the 16 GB SXM2 part).
   A row pointing at a GPU with no profile yet is an error naming that GPU ("no profile for ...").
3. **Parsed name** (`phantom_report.gpu_naming.parse_gpu_name`): vendor/brand words, memory types,
   generation words dropped; family, form factor and memory compared with every profile's own
   name, `form_factor` and `memory_gb` fields. Exactly one profile left: resolved. None left while
   the family exists: "no profile for ..." listing the family's profiles. Several left:
4. **Declared family default**: if the name says no more than family / memory / form factor and a
   profile declares exactly that spelling as an alias ('a100', 'h100', 'v100', 'a100-80gb'), that
   profile is the answer, reported as a default with the alternatives (never silent). Otherwise
   the name is **ambiguous**: an error listing the candidates and what tells them apart.

A memory size measured on a device (``gpus detect``) is a further constraint: when the name's
answer disagrees with it, the family is re-matched on the measured memory.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from phantom_report.engine.alias_table import AliasEntry, read_alias_table  # noqa: F401 (re-exported)
from phantom_report.errors import ProfileError
from phantom_report.gpu_naming import (
    FORM_FACTOR_LABEL, ParsedGpuName, form_factor_class, name_key, parse_gpu_name, vendorless_key,
)

if TYPE_CHECKING:
    from phantom_report.engine.profiles import GpuProfile

# a typed memory size is a marketing figure: 80 GB means 80, give or take rounding
TYPED_MEMORY_TOLERANCE_GB = 1.0
# a measured one is what the driver reports: GiB, less ECC / reserved memory (T4: 15 of 16 GB)
MEASURED_MEMORY_LOW, MEASURED_MEMORY_HIGH = 0.90, 1.05
MEMO_SIZE = 4096  # distinct names remembered per catalog
MAX_NAME_CHARS = 200


class UnknownGpuError(ProfileError):
    """No profile family matches the name at all."""


class NoGpuProfileError(ProfileError):
    """The name is understood (family, form factor, memory) but no profile has those figures."""

    def __init__(self, message: str, wanted: str = "", family_profiles: tuple[str, ...] = ()):
        super().__init__(message)
        self.wanted = wanted
        self.family_profiles = family_profiles


class AmbiguousGpuError(ProfileError):
    """Several profiles fit the name and none is declared its default."""

    def __init__(self, message: str, candidates: tuple[str, ...]):
        super().__init__(message)
        self.candidates = candidates


@dataclass(frozen=True)
class GpuResolution:
    """How a written name was resolved. `via`: name | alias | alias table | parsed | family default."""

    query: str
    canonical: str
    via: str
    alternatives: tuple[str, ...] = ()  # other profiles the name also fits (family default only)
    note: str = ""

    def explain(self) -> str:
        """One line for humans: "'A100' -> A100-80GB-SXM (family default; also fits ...)"."""
        extra = f"; {self.note}" if self.note else ""
        if self.alternatives:
            extra += f"; also fits {', '.join(self.alternatives)}: add memory size or form factor to choose"
        return f"{self.query!r} -> {self.canonical} ({self.via}{extra})"


@dataclass(frozen=True)
class _ProfileShape:
    name: str
    family: str
    form_factor: str
    memory_gb: float
    usable_memory_gb: float
    vendor: str

    def describe(self) -> str:
        form = FORM_FACTOR_LABEL.get(self.form_factor, self.form_factor or "form factor not given")
        return f"{self.name} ({form}, {self.memory_gb:g} GB)"


def _shape(p: "GpuProfile") -> _ProfileShape:
    parsed = parse_gpu_name(p.name)
    return _ProfileShape(
        name=p.name, family=parsed.family, form_factor=parsed.form_factor or form_factor_class(p.form_factor),
        memory_gb=p.memory_gb, usable_memory_gb=p.memory_gb * p.usable_memory_fraction, vendor=p.vendor.lower(),
    )


def alias_table_path() -> Path:
    """Path of the shipped GPU alias table (engine/data/gpu_aliases.csv)."""
    return Path(str(resources.files("phantom_report.engine").joinpath("data/gpu_aliases.csv")))


@cache
def builtin_alias_table() -> Mapping[str, AliasEntry]:
    """The built-in alias table, keyed by `name_key(alias)`."""
    return read_alias_table(alias_table_path())


@dataclass(frozen=True)
class GpuNameResolver:
    """Resolves written GPU names against a set of profiles (built by `load_catalog`)."""

    profiles: Mapping[str, "GpuProfile"]
    index: Mapping[str, str]  # name_key(name or profile alias) -> canonical
    alias_table: Mapping[str, AliasEntry] = field(default_factory=dict)

    @cached_property
    def shapes(self) -> tuple[_ProfileShape, ...]:
        """Each profile's shape (family, form factor, memory GB, vendor), built once, for near-miss suggestions."""
        return tuple(_shape(p) for p in self.profiles.values())

    @cached_property
    def _memo(self) -> dict:
        # corpus loading resolves the same few hundred names thousands of times, and the "did you mean"
        # search behind every failure is the costly part: remember answers and errors per name
        return {}

    def resolve(self, name: str, measured_memory_gb: float | None = None) -> GpuResolution:
        """Canonical profile for a written name (rules in the module docstring)."""
        key = (name, measured_memory_gb)
        if key not in self._memo:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            try:
                self._memo[key] = self._resolve_uncached(name, measured_memory_gb)
            except ProfileError as exc:
                self._memo[key] = exc
        found = self._memo[key]
        if isinstance(found, ProfileError):
            raise found.with_traceback(None)  # a fresh traceback each time, not one that grows
        return found

    def _resolve_uncached(self, name: str, measured_memory_gb: float | None) -> GpuResolution:
        if len(name) > MAX_NAME_CHARS:  # names come from users and files: bound the fuzzy search's work
            raise UnknownGpuError(f"GPU name of {len(name)} characters; expected at most {MAX_NAME_CHARS}")
        if not name_key(name):
            raise UnknownGpuError(f"empty GPU name {name!r}; expected a GPU such as 'H100' (see `phantom-report gpus list`)")
        if measured_memory_gb is None:
            return self._resolve_name(name)
        try:
            res = self._resolve_name(name)
        except AmbiguousGpuError as exc:
            return self._match_measured_memory(name, measured_memory_gb, exc)
        return self._check_measured_memory(name, res, measured_memory_gb)

    # -- the rules -----------------------------------------------------------------------------
    @cached_property
    def _vendorless_index(self) -> dict[str, str]:
        """vendorless_key(name or alias) -> canonical, for keys only one profile claims."""
        owners: dict[str, set[str]] = {}
        for prof in self.profiles.values():
            for alias in (prof.name, *prof.aliases):
                owners.setdefault(vendorless_key(alias), set()).add(prof.name)
        return {k: next(iter(v)) for k, v in owners.items() if k and len(v) == 1}

    @cached_property
    def _vendorless_aliases(self) -> dict[str, AliasEntry]:
        return {vendorless_key(e.alias): e for e in self.alias_table.values()}

    def _resolve_name(self, name: str) -> GpuResolution:
        key, bare = name_key(name), vendorless_key(name)
        parsed = parse_gpu_name(name)
        # exact spelling first (profile, then table), then the same without vendor/brand words
        for profile_index, table, k in ((self.index, self.alias_table, key),
                                        (self._vendorless_index, self._vendorless_aliases, bare)):
            if k in profile_index:
                canonical = profile_index[k]
                via = "name" if bare == vendorless_key(canonical) else "alias"
                # judged on the name without vendor words: 'nvidia-tesla-v100' says no more than 'v100'
                return self._maybe_default(name, parsed, canonical, via, bare)
            if k in table:
                return self._from_alias_table(name, table[k])
        return self._match_parsed(name, parsed)

    def _from_alias_table(self, name: str, entry: AliasEntry) -> GpuResolution:
        if entry.canonical not in self.profiles:
            try:  # a profile added under a longer name ('MI210-64GB') still matches the table's 'MI210'
                res = self._match_parsed(entry.canonical, parse_gpu_name(entry.canonical))
                return GpuResolution(name, res.canonical, "alias table", note=entry.rationale)
            except ProfileError:
                pass
            raise NoGpuProfileError(
                f"no profile for {entry.canonical} (the alias table reads {name!r} as it: {entry.rationale}); "
                f"add profiles/{entry.canonical.lower()}.toml or name another GPU (see `phantom-report gpus list`)",
                wanted=entry.canonical)
        return GpuResolution(name, entry.canonical, "alias table", note=entry.rationale)

    def _family(self, parsed: ParsedGpuName) -> list[_ProfileShape]:
        return [s for s in self.shapes if s.family == parsed.family and (not parsed.vendor or s.vendor == parsed.vendor)]

    def _match_parsed(self, name: str, parsed: ParsedGpuName) -> GpuResolution:
        family = self._family(parsed) if parsed.family else []
        if not family:
            # the parsed name may still be a spelling of the tables ('NVIDIA T4G Tensor Core GPU' -> 'T4G')
            for key in _reduced_keys(parsed) if parsed.family else ():
                if key in self.index:
                    return GpuResolution(name, self.index[key], "alias", note=f"read as {parsed.describe()}")
                if key in self.alias_table:
                    return self._from_alias_table(name, self.alias_table[key])
            raise UnknownGpuError(f"unknown GPU {name!r}{self._did_you_mean(name, parsed)} (see `phantom-report gpus list`)")
        fits = [s for s in family if _fits(s, parsed)]
        if len(fits) == 1:
            return GpuResolution(name, fits[0].name, "parsed", note=f"read as {parsed.describe()}")
        if not fits:
            listed = "; ".join(s.describe() for s in family)
            raise NoGpuProfileError(
                f"no profile for {name!r} (read as {parsed.describe()}); the {parsed.family.upper()} profiles are: "
                f"{listed}. Name one of these, or add a profile TOML for this GPU (profiles/README.md)",
                wanted=parsed.describe(), family_profiles=tuple(s.name for s in family))
        default = self._declared_default(parsed, {s.name for s in fits})
        if default:
            return GpuResolution(name, default, "family default",
                                 alternatives=tuple(s.name for s in fits if s.name != default))
        raise AmbiguousGpuError(_ambiguity_message(name, parsed, fits), tuple(s.name for s in fits))

    def _declared_default(self, parsed: ParsedGpuName, names: set[str]) -> str | None:
        """A profile alias spelling exactly the parsed family / memory / form factor ('a100-80gb')."""
        for key in _reduced_keys(parsed):
            for table in (self.index, {k: e.canonical for k, e in self.alias_table.items()}):
                if table.get(key) in names:
                    return table[key]
        return None

    def _maybe_default(self, name: str, parsed: ParsedGpuName, canonical: str, via: str, key: str) -> GpuResolution:
        """An alias that says no more than family/memory/form (e.g. 'h100') is a declared default:
        report the other profiles it could have meant."""
        if key not in _reduced_keys(parsed) or not parsed.family:
            return GpuResolution(name, canonical, via)
        others = tuple(s.name for s in self._family(parsed) if _fits(s, parsed) and s.name != canonical)
        if not others:
            return GpuResolution(name, canonical, via)
        return GpuResolution(name, canonical, "family default", alternatives=others)

    def _check_measured_memory(self, name: str, res: GpuResolution, memory_gb: float) -> GpuResolution:
        prof = _shape(self.profiles[res.canonical])
        if _memory_fits_measured(prof, memory_gb):
            shapes = {s.name: s for s in self.shapes}
            others = tuple(a for a in res.alternatives if _memory_fits_measured(shapes[a], memory_gb))
            # the measured memory may rule out every alternative: then the alias alone decided
            via = "alias" if res.via == "family default" and not others else res.via
            return replace(res, alternatives=others, via=via)
        why = f"the name alone reads as {res.canonical}, which has {prof.memory_gb:g} GB"
        return self._match_measured_memory(name, memory_gb, why)

    def _match_measured_memory(self, name: str, memory_gb: float, why: object) -> GpuResolution:
        """Re-match the name's family on the memory a device reported."""
        parsed = parse_gpu_name(name)
        fits = [s for s in self._family(parsed) if _memory_fits_measured(s, memory_gb)
                and (not parsed.form_factor or s.form_factor == parsed.form_factor)]
        measured = f"{memory_gb:.1f} GB measured on the device"
        if len(fits) == 1:
            return GpuResolution(name, fits[0].name, "parsed", note=measured)
        if fits:
            # several parts share this memory size (A100 40 GB SXM4 / PCIe): a declared default for
            # the family at that size ('a100-40gb') decides, as it would for the typed size
            sizes = {s.memory_gb for s in fits}
            sized = replace(parsed, memory_gb=sizes.pop()) if len(sizes) == 1 else parsed
            default = self._declared_default(sized, {s.name for s in fits})
            if default:
                return GpuResolution(name, default, "family default", note=measured,
                                     alternatives=tuple(s.name for s in fits if s.name != default))
            raise AmbiguousGpuError(_ambiguity_message(name, parsed, fits), tuple(s.name for s in fits))
        raise NoGpuProfileError(
            f"no profile for {name!r} with {memory_gb:.1f} GB as measured on the device ({why}); "
            "add a profile TOML for it (profiles/README.md)",
            wanted=f"{parsed.describe()} {memory_gb:.0f} GB", family_profiles=tuple(s.name for s in self._family(parsed)))

    def _did_you_mean(self, name: str, parsed: ParsedGpuName) -> str:
        keys = list(self.index) + [s.family for s in self.shapes]
        owner = dict(self.index) | {s.family: s.name for s in self.shapes}
        close: list[str] = []
        for probe in (name_key(name), parsed.family):
            close += difflib.get_close_matches(probe, keys, n=5, cutoff=0.5) if probe else []
        names = list(dict.fromkeys(owner[c] for c in close))[:5]
        read = f" (read as {parsed.describe()})" if parsed.family and parsed.family != name_key(name) else ""
        return f"{read}; did you mean {', '.join(names)}?" if names else read


def _fits(shape: _ProfileShape, parsed: ParsedGpuName) -> bool:
    if parsed.form_factor and shape.form_factor != parsed.form_factor:
        return False
    return parsed.memory_gb is None or abs(shape.memory_gb - parsed.memory_gb) <= TYPED_MEMORY_TOLERANCE_GB


def _memory_fits_measured(shape: _ProfileShape, memory_gb: float) -> bool:
    return MEASURED_MEMORY_LOW * shape.usable_memory_gb <= memory_gb <= MEASURED_MEMORY_HIGH * shape.memory_gb


def _reduced_keys(parsed: ParsedGpuName) -> tuple[str, ...]:
    """Keys a name saying only family / memory / form factor is spelled as ('a100', 'a10080gb', 'h100pcie')."""
    mem = f"{parsed.memory_gb:g}gb" if parsed.memory_gb is not None else ""
    keys = [parsed.family + mem + form for form in (parsed.form_factor, parsed.form_word)]
    keys += [parsed.family + form + mem for form in (parsed.form_factor, parsed.form_word)]
    return tuple(dict.fromkeys(keys))


def _ambiguity_message(name: str, parsed: ParsedGpuName, fits: list[_ProfileShape]) -> str:
    hints = []
    if len({s.memory_gb for s in fits}) > 1:
        hints.append("the memory size (" + "/".join(f"{m:g}GB" for m in sorted({s.memory_gb for s in fits})) + ")")
    if len({s.form_factor for s in fits}) > 1:
        forms = {FORM_FACTOR_LABEL.get(s.form_factor, s.form_factor) for s in fits}
        hints.append("the form factor (" + "/".join(sorted(forms)) + ")")
    hint = " or ".join(hints) or "the exact profile name"
    return (f"GPU name {name!r} is ambiguous (read as {parsed.describe()}): it fits "
            f"{', '.join(s.describe() for s in fits)}; add {hint} to the name, or use one of these names")
