"""GPU names as people write them: the acceptance table of real spellings, the parser, the rules."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from phantom_report.engine.gpu_names import (
    AmbiguousGpuError, NoGpuProfileError, UnknownGpuError, builtin_alias_table, read_alias_table,
)
from phantom_report.engine.profiles import load_catalog
from phantom_report.errors import ProfileError
from phantom_report.gpu_naming import name_key, parse_gpu_name
from phantom_report.pricing.gpu_names import resolve_gpu as pricing_resolve

from test_profiles import minimal_profile

TABLE = Path(__file__).parent / "fixtures" / "gpu_name_spellings.csv"
KINDS = {"nvidia-smi", "rocm-smi", "aws", "gcp", "azure", "vendor", "benchmark"}
OUTCOMES = {"resolved", "default", "no_profile", "unknown"}


def _rows() -> list[dict[str, str]]:
    lines = [ln for ln in TABLE.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    return list(csv.DictReader(lines))


ROWS = _rows()


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_table_is_large_sourced_and_covers_every_kind():
    assert len(ROWS) >= 60
    assert {r["kind"] for r in ROWS} == KINDS
    for r in ROWS:
        assert r["source"].strip() and r["outcome"] in OUTCOMES, r
        assert (r["outcome"] in ("resolved", "default")) == bool(r["expected"]), r


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['kind']}:{r['spelling']}:{r['measured_memory_gb']}" for r in ROWS])
def test_real_spelling_resolves_as_recorded(catalog, row):
    memory = float(row["measured_memory_gb"]) if row["measured_memory_gb"] else None
    expected, outcome = row["expected"], row["outcome"]
    if row["needs_profile"] == "1" and expected not in catalog.profiles:
        # the profile is added by another change: until then the name must say so, never guess
        family = parse_gpu_name(expected).family
        try:
            got = catalog.resolve_detail(row["spelling"], memory).canonical
        except (NoGpuProfileError, UnknownGpuError):
            return
        assert parse_gpu_name(got).family == family, f"{row['spelling']!r} -> {got}, expected a {expected} profile"
        return
    if outcome in ("resolved", "default"):
        res = catalog.resolve_detail(row["spelling"], memory)
        assert res.canonical == expected, res.explain()
        if outcome == "default":
            assert res.via == "family default" and res.alternatives, res.explain()
        return
    error = NoGpuProfileError if outcome == "no_profile" else UnknownGpuError
    with pytest.raises(error):
        catalog.resolve_detail(row["spelling"], memory)


# --- the parser ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, family, form, memory", [
    ("NVIDIA A100-SXM4-80GB", "a100", "sxm", 80), ("H100 80GB PCIe Gen5", "h100", "pcie", 80),
    ("NVIDIA RTX 6000 Ada Generation", "6000ada", "", None), ("NVIDIA GeForce RTX 3080 Ti", "3080ti", "", None),
    ("H100NVL-PCIe-94GB", "h100", "nvl", 94), ("Arcturus GL-XL [AMD Instinct MI100]", "mi100", "", None),
    ("V100 32GB (DGX-2H)", "v100", "", 32), ("NVIDIA TITAN RTX", "titanrtx", "", None),
    ("AMD Instinct MI300X-NPS1-SPX-192GB-750W", "mi300x", "", 192), ("HGX B200", "b200", "sxm", None),
])
def test_parser_reads_family_form_factor_and_memory(text, family, form, memory):
    parsed = parse_gpu_name(text)
    assert (parsed.family, parsed.form_factor, parsed.memory_gb) == (family, form, memory)


def test_vendor_words_set_the_vendor():
    assert parse_gpu_name("Radeon Instinct MI250X").vendor == "amd"
    assert parse_gpu_name("Tesla T4").vendor == "nvidia"
    assert parse_gpu_name("T4").vendor == ""


# --- rules over profiles the test writes (no code change needed for a new GPU) -------------------


def _write(tmp_path: Path, name: str, **fields: str) -> None:
    (tmp_path / f"{name.lower()}.toml").write_text(minimal_profile(name, **fields), encoding="utf-8")


# A850 is a made-up family: no built-in profile may share it (A800 is built in now)
def test_a_new_profile_resolves_from_its_fields_without_aliases(tmp_path):
    _write(tmp_path, "A850-80GB-SXM", architecture='"ampere"', form_factor='"sxm4"', memory_gb="80")
    _write(tmp_path, "A850-40GB-PCIe", architecture='"ampere"', form_factor='"pcie"', memory_gb="40")
    cat = load_catalog(tmp_path)
    assert cat.resolve("NVIDIA A850-SXM4-80GB") == "A850-80GB-SXM"
    assert cat.resolve("A850 40GB PCIe") == "A850-40GB-PCIe"
    assert cat.resolve("a850 pcie") == "A850-40GB-PCIe"


def test_a_family_without_a_declared_default_is_ambiguous_and_lists_candidates(tmp_path):
    _write(tmp_path, "A850-80GB-SXM", form_factor='"sxm4"', memory_gb="80")
    _write(tmp_path, "A850-40GB-PCIe", form_factor='"pcie"', memory_gb="40")
    cat = load_catalog(tmp_path)
    with pytest.raises(AmbiguousGpuError) as err:
        cat.resolve("NVIDIA A850")
    assert set(err.value.candidates) == {"A850-80GB-SXM", "A850-40GB-PCIe"}
    msg = str(err.value)
    assert "A850-80GB-SXM (SXM, 80 GB)" in msg and "A850-40GB-PCIe (PCIe, 40 GB)" in msg
    assert "memory size (40GB/80GB)" in msg and "form factor (PCIe/SXM)" in msg
    # the measured memory of a device decides between them
    assert cat.resolve_detail("NVIDIA A850", 39.5).canonical == "A850-40GB-PCIe"


def test_a_declared_alias_makes_the_family_default_and_reports_the_alternatives(tmp_path):
    _write(tmp_path, "A850-80GB-SXM", form_factor='"sxm4"', memory_gb="80", aliases='["a850"]')
    _write(tmp_path, "A850-40GB-PCIe", form_factor='"pcie"', memory_gb="40")
    res = load_catalog(tmp_path).resolve_detail("NVIDIA A850")
    assert (res.canonical, res.via, res.alternatives) == ("A850-80GB-SXM", "family default", ("A850-40GB-PCIe",))
    assert "also fits A850-40GB-PCIe" in res.explain()


def test_existing_defaults_stay_and_say_so(catalog):
    for typed, canonical in (("A100", "A100-80GB-SXM"), ("h100", "H100-SXM"), ("v100", "V100-SXM2-16GB")):
        res = catalog.resolve_detail(typed)
        assert res.canonical == canonical and res.via == "family default" and res.alternatives


def test_no_profile_error_names_what_was_read_and_the_family(catalog):
    # the family is known, this memory size is not (A100 40GB PCIe has a profile now)
    with pytest.raises(NoGpuProfileError) as err:
        catalog.resolve("A100 20GB PCIe")
    msg = str(err.value)
    assert "read as A100, PCIe, 20 GB" in msg
    assert all(n in msg for n in ("A100-40GB-SXM", "A100-40GB-PCIe", "A100-80GB-PCIe", "A100-80GB-SXM"))


def test_unknown_gpu_suggests_close_profiles(catalog):
    with pytest.raises(UnknownGpuError, match="did you mean.*V100"):
        catalog.resolve("NVIDIA Tesla V100S")
    with pytest.raises(ProfileError, match="empty GPU name"):
        catalog.resolve("  ")


def test_measured_memory_overrides_a_family_default(catalog):
    assert catalog.resolve_detail("A100", 40.0).canonical == "A100-40GB-SXM"
    assert catalog.resolve_detail("H100", 93.6).canonical == "H100-NVL"
    with pytest.raises(NoGpuProfileError, match="12.0 GB as measured"):
        catalog.resolve_detail("A100", 12.0)


# --- the alias table ----------------------------------------------------------------------------


def test_alias_table_rows_are_sourced_and_do_not_shadow_profile_aliases(catalog):
    table = builtin_alias_table()
    assert table
    for key, entry in table.items():
        assert entry.source.startswith("https://") and len(entry.rationale) > 20, entry
        assert key not in catalog._index, f"{entry.alias!r} is already a profile alias; one home per spelling"


def test_alias_table_row_pointing_at_a_missing_profile_says_no_profile(catalog):
    # MI100 has no profile on this branch; the table row for its PCI id must not guess another GPU
    if "MI100" in catalog.profiles:
        assert catalog.resolve("pci 1002:738c") == "MI100"
    else:
        with pytest.raises(NoGpuProfileError, match="no profile for MI100"):
            catalog.resolve("pci 1002:738c")


def test_alias_table_rejects_incomplete_rows(tmp_path):
    bad = tmp_path / "aliases.csv"
    bad.write_text("alias,canonical,source,rationale\nX1,A10,,because\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="row 2: every column"):
        read_alias_table(bad)


# --- pricing shares the parser ------------------------------------------------------------------


@pytest.mark.parametrize("typed, expected", [
    ("NVIDIA A100-SXM4-80GB", ("A100-80GB-SXM",)), ("H100 80GB PCIe Gen5", ("H100-PCIe",)),
    ("NVIDIA H100 80GB HBM3", ("H100-SXM",)), ("AMD Instinct MI300X", ("MI300X",)),
    ("NVIDIA RTX 6000 Ada Generation", ("RTX-6000-Ada",)), ("Tesla T4", ("T4",)),
])
def test_pricing_reads_the_same_spellings(typed, expected):
    assert pricing_resolve(typed) == expected


def test_every_engine_resolution_of_a_canonical_pricing_name_agrees(catalog):
    from phantom_report.pricing.gpu_names import CANONICAL_GPUS

    for name in CANONICAL_GPUS:
        assert catalog.resolve(name) == name and pricing_resolve(name) == (name,)
        assert name_key(name)


def test_overlong_names_are_refused_quickly(catalog):
    with pytest.raises(UnknownGpuError, match="expected at most 200"):
        catalog.resolve("A100 " * 10_000)


def test_measured_memory_shared_by_two_parts_uses_the_declared_default_at_that_size(tmp_path):
    # AWS reports a p4d GPU as 'A100' with 40960 MiB; once a 40 GB PCIe profile exists too, the
    # declared 'a100-40gb'-style alias picks the part, and the other is reported
    _write(tmp_path, "A850-40GB-SXM", form_factor='"sxm4"', memory_gb="40", aliases='["a850-40gb"]')
    _write(tmp_path, "A850-40GB-PCIe", form_factor='"pcie"', memory_gb="40")
    _write(tmp_path, "A850-80GB-SXM", form_factor='"sxm4"', memory_gb="80", aliases='["a850"]')
    res = load_catalog(tmp_path).resolve_detail("A850", 40.0)
    assert (res.canonical, res.via, res.alternatives) == ("A850-40GB-SXM", "family default", ("A850-40GB-PCIe",))
