"""Built-in GPU profiles (profiles/*.toml) and the profile loader's user-facing errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from phantom_report.engine.profiles import IDLE_POWER_FALLBACK_FRACTION, PEAK_KEYS, load_catalog, normalize_name
from phantom_report.errors import ProfileError

PROFILES_DIR = Path(__file__).resolve().parents[1] / "profiles"

# docs/INTERFACES.md: the canonical names pricing and the engine agree on
CANONICAL_NAMES = {
    "V100-SXM2-16GB", "V100-SXM2-32GB", "V100-PCIe-16GB", "T4", "Quadro-RTX-8000", "A10", "A10G",
    "L4", "L40S", "A100-40GB-SXM", "A100-80GB-SXM", "A100-80GB-PCIe", "H100-SXM", "H100-PCIe",
    "H100-NVL", "H200", "B200", "RTX-3090", "RTX-4090", "RTX-5090", "RTX-A4000", "RTX-A6000",
    "RTX-6000-Ada", "MI250X", "MI300X",
}
ARCHITECTURES = {"pascal", "volta", "turing", "ampere", "ada", "hopper", "blackwell", "cdna", "cdna2", "cdna3"}
# precisions whose hardware path does not exist on an architecture: a profile must omit the key
MISSING_PATHS = {
    "pascal": {"tf32", "bf16", "fp8"},
    "volta": {"tf32", "bf16", "fp8"},
    "turing": {"tf32", "bf16", "fp8"},
    "ampere": {"fp8"},
    "cdna": {"tf32", "fp8"},
    "cdna2": {"tf32", "fp8"},
}


@pytest.fixture(autouse=True)
def _no_user_profiles(monkeypatch):
    # a developer's own PHANTOM_PROFILES must not leak into these tests
    monkeypatch.delenv("PHANTOM_PROFILES", raising=False)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def minimal_profile(name: str = "Test-GPU", **overrides) -> str:
    """A valid profile as TOML text; overrides replace a top-level line (value given as TOML text)."""
    fields = {
        "name": f'"{name}"',
        "vendor": '"nvidia"',
        "architecture": '"hopper"',
        "memory_gb": "80",
        "memory_bandwidth_gbps": "3350",
        "sm_count": "132",
        "l2_cache_mb": "50",
        "boost_clock_mhz": "1980",
        "sustained_clock_mhz": "1590",
        "tdp_w": "700",
        "interconnect": '"nvlink4"',
        "interconnect_gbps": "900",
        "source": '"test fixture"',
    }
    for key, value in overrides.items():
        if value is None:
            fields.pop(key)
        else:
            fields[key] = value
    lines = [f"{k} = {v}" for k, v in fields.items()]
    return "\n".join(lines) + "\n\n[peak_tflops]\nfp32 = 60\nfp16 = 900\n"


EXTRA_NAMES = {"GH200", "A30", "A40"}  # beyond the required 25, for the measured corpus
# issue 13: GPUs people benchmark on that the first 28 lacked
ADDED_NAMES = {
    "A100-40GB-PCIe", "A800-80GB-SXM", "A800-80GB-PCIe", "H800-SXM", "H800-PCIe", "V100-PCIe-32GB",
    "P100-PCIe-16GB", "P100-SXM2-16GB", "P4", "RTX-3080", "RTX-3080-Ti", "RTX-4080", "RTX-4070-Ti",
    "RTX-A5000", "L40", "MI100", "MI210", "MI325X", "GB200",
    "RTX-3090-Ti",  # llama.cpp's own benchmark posts (PR 4812, llama-bench README) ran on one
}
ALL_NAMES = CANONICAL_NAMES | EXTRA_NAMES | ADDED_NAMES


# --- the built-in files -------------------------------------------------------------------------


def test_all_canonical_gpus_load(catalog):
    # the 25 required GPUs, GH200, A30 and A40 (added for the measured corpus) and issue 13's additions
    assert set(catalog.names) == ALL_NAMES
    assert len(catalog) == 48


def test_one_file_per_gpu_named_after_it(catalog):
    files = sorted(p.name for p in PROFILES_DIR.glob("*.toml"))
    assert files == sorted(f"{n.lower()}.toml" for n in ALL_NAMES)
    for prof in catalog:
        assert Path(prof.path).name == f"{prof.name.lower()}.toml"


def test_every_profile_and_figure_has_a_source(catalog):
    for prof in catalog:
        assert prof.source.strip(), prof.name
        # the profile-level source is a vendor document or page, cited by URL
        assert "http" in prof.source, prof.name
        for key, src in prof.sources.items():
            assert src.strip(), (prof.name, key)
            target = key.split(".")[0]
            assert target in {
                "peak_tflops", "memory_gb", "memory_bandwidth_gbps", "sm_count", "l2_cache_mb",
                "boost_clock_mhz", "peak_clock_mhz", "sustained_clock_mhz", "tdp_w", "interconnect",
                "interconnect_gbps", "pcie_gbps", "launch_price_usd", "launch_year", "usable_memory_fraction",
                "idle_power_w",
            }, (prof.name, key)
            if "." in key:
                assert key.split(".")[1] in prof.peak_tflops, (prof.name, key)
        if prof.launch_price_usd is not None:
            assert "launch_price_usd" in prof.sources, f"{prof.name}: a launch price needs its own source"


def test_vendor_and_architecture_families(catalog):
    for prof in catalog:
        assert prof.vendor in {"nvidia", "amd"}, prof.name
        assert prof.architecture in ARCHITECTURES, prof.name
    assert catalog.get("MI300X").architecture == "cdna3"
    assert catalog.get("B200").architecture == "blackwell"


def test_missing_hardware_paths_are_omitted(catalog):
    for prof in catalog:
        absent = MISSING_PATHS.get(prof.architecture, set())
        assert not absent & set(prof.peak_tflops), (prof.name, absent & set(prof.peak_tflops))
        assert set(prof.peak_tflops) <= set(PEAK_KEYS)
        assert prof.peak("fp32"), prof.name
        # the P4 (GP104) runs FP16 at 1/64 rate, which its datasheet does not quote
        assert prof.peak("fp16") or prof.name == "P4", prof.name
    assert catalog.get("V100-SXM2-16GB").peak("tf32") is None
    assert catalog.get("A100-80GB-SXM").peak("fp8") is None
    assert catalog.get("H100-SXM").peak("fp8") is not None


# --- aliases ------------------------------------------------------------------------------------


def test_aliases_unique_across_files(catalog):
    owner: dict[str, str] = {}
    for prof in catalog:
        for alias in (prof.name, *prof.aliases):
            key = normalize_name(alias)
            assert key, (prof.name, alias)
            assert owner.setdefault(key, prof.name) == prof.name, (
                f"alias {alias!r} of {prof.name} collides with {owner[key]}"
            )


@pytest.mark.parametrize(
    "typed, canonical",
    [
        ("h100", "H100-SXM"), ("H100", "H100-SXM"), ("H100 SXM", "H100-SXM"),
        ("H100-SXM5-80GB", "H100-SXM"), ("NVIDIA H100 80GB HBM3", "H100-SXM"),
        ("A100", "A100-80GB-SXM"), ("a100-40gb", "A100-40GB-SXM"), ("A100-SXM4-80GB", "A100-80GB-SXM"),
        ("A100 80GB PCIe", "A100-80GB-PCIe"), ("4090", "RTX-4090"), ("3090", "RTX-3090"),
        ("5090", "RTX-5090"), ("v100", "V100-SXM2-16GB"), ("Tesla V100-SXM2-16GB", "V100-SXM2-16GB"),
        ("t4", "T4"), ("Tesla T4", "T4"), ("l4", "L4"), ("a10g", "A10G"), ("mi300x", "MI300X"),
        ("NVIDIA L40S", "L40S"), ("A6000", "RTX-A6000"), ("RTX 6000 Ada", "RTX-6000-Ada"),
        ("h100_nvl", "H100-NVL"), ("H200", "H200"), ("b200", "B200"),
    ],
)
def test_aliases_resolve_case_insensitively(catalog, typed, canonical):
    assert catalog.resolve(typed) == canonical
    assert catalog.resolve(typed.upper()) == canonical
    assert catalog.get(typed.lower()).name == canonical


def test_unknown_gpu_lists_closest_matches(catalog):
    with pytest.raises(ProfileError) as err:
        catalog.resolve("h10")
    msg = str(err.value)
    assert "'h10'" in msg and "did you mean" in msg
    assert "H100-" in msg


# --- physical sanity ----------------------------------------------------------------------------


def test_physical_sanity(catalog):
    for prof in catalog:
        assert prof.memory_gb > 0 and prof.memory_bandwidth_gbps > 0, prof.name
        assert prof.sm_count > 0 and prof.l2_cache_mb > 0 and prof.tdp_w > 0, prof.name
        assert prof.sustained_clock_mhz <= prof.boost_clock_mhz, prof.name
        # tensor/matrix cores, or Pascal's packed FP16: the FP16 path is at least as fast as FP32
        if prof.peak("fp16") is not None:
            assert prof.peak("fp16") >= prof.peak("fp32"), prof.name
        # CDNA 1 (MI100) runs BF16 at half its FP16 matrix rate; every later part at the same rate
        if prof.peak("bf16") is not None and prof.architecture != "cdna":
            assert prof.peak("bf16") == prof.peak("fp16"), prof.name
        if prof.peak("fp8") is not None:
            assert prof.peak("fp8") >= prof.peak("fp16"), prof.name
        if prof.pcie_gbps is not None:
            assert prof.pcie_gbps in {32, 64, 128}, prof.name
        if prof.launch_year is not None:
            assert 2016 <= prof.launch_year <= 2025, prof.name


def test_generations_are_ordered(catalog):
    fp16 = {n: catalog.get(n).peak("fp16") for n in ("V100-SXM2-16GB", "A100-80GB-SXM", "H100-SXM", "B200")}
    assert fp16["B200"] > fp16["H100-SXM"] > fp16["A100-80GB-SXM"] > fp16["V100-SXM2-16GB"]
    bw = {n: catalog.get(n).memory_bandwidth_gbps for n in ("A100-80GB-SXM", "H100-SXM", "H200")}
    assert bw["H200"] > bw["H100-SXM"] > bw["A100-80GB-SXM"]
    # the H200 is an H100 with more/faster memory: same compute
    assert catalog.get("H200").peak("fp16") == pytest.approx(catalog.get("H100-SXM").peak("fp16"), rel=0.01)


def test_consumer_cards_use_fp32_accumulate_figures(catalog):
    # GeForce halves the FP32-accumulate tensor rate; the profile carries that (framework default) figure
    rtx4090 = catalog.get("RTX-4090")
    assert rtx4090.peak("fp16") == pytest.approx(165.2)
    assert rtx4090.peak("fp16") == pytest.approx(2 * rtx4090.peak("fp32"))
    assert catalog.get("RTX-3090").peak("fp16") == pytest.approx(71)


# --- loader errors on user files ----------------------------------------------------------------


def test_malformed_toml_names_the_file(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text('name = "Broken"\nmemory_gb = = 3\n', encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_catalog(tmp_path)
    assert str(bad) in str(err.value)
    assert "malformed TOML" in str(err.value)


def test_wrong_type_names_file_key_and_expected_type(tmp_path):
    bad = tmp_path / "typo.toml"
    bad.write_text(minimal_profile(sm_count='"lots"'), encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_catalog(tmp_path)
    msg = str(err.value)
    assert str(bad) in msg and "'sm_count'" in msg and "integer" in msg


def test_boolean_is_not_a_number(tmp_path):
    bad = tmp_path / "bool.toml"
    bad.write_text(minimal_profile(tdp_w="true"), encoding="utf-8")
    with pytest.raises(ProfileError, match="'tdp_w'"):
        load_catalog(tmp_path)


@pytest.mark.parametrize("key, spelled", [("tdp_w", "inf"), ("memory_bandwidth_gbps", "nan"), ("fp16", "inf"),
                                          ("fp16_acc16", "nan")])
def test_infinite_or_nan_figures_are_refused(tmp_path, key, spelled):
    """TOML's inf and nan are floats: a nan peak would read as 'no compute path', an inf one as free compute."""
    bad = tmp_path / "nonfinite.toml"
    text = minimal_profile(**({key: spelled} if key in ("tdp_w", "memory_bandwidth_gbps") else {}))
    if key == "fp16":
        text = text.replace("fp16 = 900\n", "fp16 = inf\n")
    elif key == "fp16_acc16":
        text += "fp16_acc16 = nan\n"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match=rf"nonfinite\.toml: key '(peak_tflops\.)?{key}': expected a positive number"):
        load_catalog(tmp_path)


def test_missing_required_key(tmp_path):
    bad = tmp_path / "partial.toml"
    bad.write_text(minimal_profile(memory_gb=None), encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_catalog(tmp_path)
    msg = str(err.value)
    assert str(bad) in msg and "missing key 'memory_gb'" in msg


def test_unknown_precision_is_rejected(tmp_path):
    bad = tmp_path / "fp4.toml"
    bad.write_text(minimal_profile() + "fp4 = 9000\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"peak_tflops\.fp4"):
        load_catalog(tmp_path)


def test_fp16_accumulate_peak_is_checked_against_fp16(tmp_path):
    """peak_tflops.fp16_acc16 (FP16 with FP16 accumulation) is the fp16 tensor path with a narrower
    accumulator: accepted at or above fp16, rejected below it or without it."""
    ok = tmp_path / "acc.toml"
    ok.write_text(minimal_profile() + "fp16_acc16 = 1800\n", encoding="utf-8")
    assert load_catalog(tmp_path).get("TEST-GPU").peak("fp16_acc16") == 1800.0
    ok.write_text(minimal_profile() + "fp16_acc16 = 899\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"acc\.toml: key 'peak_tflops\.fp16_acc16': expected at least "
                                           r"peak_tflops\.fp16 \(900\), got 899"):
        load_catalog(tmp_path)
    ok.write_text(minimal_profile().replace("fp16 = 900\n", "") + "fp16_acc16 = 1800\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"'peak_tflops\.fp16_acc16': expected alongside peak_tflops\.fp16"):
        load_catalog(tmp_path)


def test_fp16_accumulate_peak_only_where_it_differs(catalog):
    """GeForce Ampere/Ada/Blackwell run FP16-accumulate tensor math at twice the FP32-accumulate rate
    their `fp16` records (1024 vs 512 dense FLOP/clk/SM); datacenter and professional cards run both at
    one rate and carry no fp16_acc16 (the executed-column fallback then uses fp16)."""
    with_acc16 = {p.name for p in catalog if p.peak("fp16_acc16") is not None}
    assert with_acc16 == {"RTX-3080", "RTX-3080-Ti", "RTX-3090", "RTX-3090-Ti", "RTX-4070-Ti", "RTX-4080",
                          "RTX-4090", "RTX-5090"}
    for name in with_acc16:
        prof = catalog.get(name)
        assert prof.peak("fp16_acc16") == pytest.approx(2 * prof.peak("fp16"), rel=0.01), name
        assert prof.peak("fp16_acc16") * 1e6 / (prof.sm_count * prof.peak_clock) == pytest.approx(1024, rel=0.01)
        assert "fp16_acc16" in prof.sources or "peak_tflops.fp16_acc16" in prof.sources, name
    assert catalog.get("RTX-4090").peak("fp16_acc16") == 330.3  # Ada whitepaper, Appendix A
    for name in ("A100-80GB-SXM", "H100-SXM", "RTX-A6000", "L40S", "RTX-6000-Ada", "T4", "V100-SXM2-16GB"):
        assert catalog.get(name).peak("fp16_acc16") is None, name


def test_missing_user_directory(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        load_catalog(tmp_path / "nope")


# --- user directory -----------------------------------------------------------------------------


def test_user_directory_adds_and_overrides(tmp_path, monkeypatch):
    (tmp_path / "my-gpu.toml").write_text(
        minimal_profile("My-GPU") + '\n[sources]\nsm_count = "lab measurement"\n', encoding="utf-8"
    )
    # the override keeps the canonical name, so it replaces the built-in H100-SXM
    (tmp_path / "h100-sxm.toml").write_text(
        minimal_profile("H100-SXM", memory_gb="96", aliases='["h100", "my-h100"]'), encoding="utf-8"
    )
    monkeypatch.setenv("PHANTOM_PROFILES", str(tmp_path))
    cat = load_catalog()
    assert len(cat) == 49
    assert cat.get("my gpu").name == "My-GPU"
    assert cat.get("My-GPU").source_for("sm_count") == "lab measurement"
    assert cat.get("My-GPU").source_for("tdp_w") == "test fixture"
    h100 = cat.get("h100")
    assert h100.memory_gb == 96
    assert Path(h100.path).parent == tmp_path
    assert cat.resolve("my-h100") == "H100-SXM"
    # other built-ins are untouched
    assert cat.get("A100").memory_gb == 80


def test_explicit_directory_argument_wins_over_environment(tmp_path, monkeypatch):
    env_dir = tmp_path / "env"
    arg_dir = tmp_path / "arg"
    env_dir.mkdir()
    arg_dir.mkdir()
    (env_dir / "env-gpu.toml").write_text(minimal_profile("Env-GPU"), encoding="utf-8")
    (arg_dir / "arg-gpu.toml").write_text(minimal_profile("Arg-GPU"), encoding="utf-8")
    monkeypatch.setenv("PHANTOM_PROFILES", str(env_dir))
    cat = load_catalog(arg_dir)
    assert "Arg-GPU" in cat.names and "Env-GPU" not in cat.names


def test_alias_clash_between_profiles_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "other.toml").write_text(minimal_profile("Other-GPU", aliases='["h100"]'), encoding="utf-8")
    monkeypatch.setenv("PHANTOM_PROFILES", str(tmp_path))
    with pytest.raises(ProfileError, match="alias 'h100' is already used"):
        load_catalog()


def test_per_precision_sources_fall_back_to_the_table_source(catalog):
    h100 = catalog.get("h100")
    assert "whitepaper" in h100.source_for("peak_tflops.fp16").lower()


def test_sustained_clock_cannot_exceed_boost(tmp_path):
    bad = tmp_path / "clock.toml"
    bad.write_text(minimal_profile(sustained_clock_mhz="2100"), encoding="utf-8")
    with pytest.raises(ProfileError, match=r"clock\.toml: key 'sustained_clock_mhz': expected the base clock, at most boost_clock_mhz \(1980\)"):
        load_catalog(tmp_path)


def test_usable_memory_fraction_must_be_a_share(tmp_path):
    bad = tmp_path / "share.toml"
    bad.write_text(minimal_profile(usable_memory_fraction="1.5"), encoding="utf-8")
    with pytest.raises(ProfileError, match=r"'usable_memory_fraction'.*\(0, 1\]"):
        load_catalog(tmp_path)


# --- the peaks agree with the silicon -----------------------------------------------------------

# Dense 16-bit tensor/matrix FLOPs per SM (CU) per clock at full rate, per architecture, from the
# vendors' whitepapers: Volta/Turing 8 or 4 Tensor Cores = 1024; GA100 2048, GA10x 1024; Ada 1024;
# Hopper 4096; Blackwell GB202 1024 (datacenter B200/GB200: 8192, an assumption NVIDIA has not
# published - those profiles derive their clock from it, see their sources); CDNA/CDNA2 1024, CDNA3 2048.
TENSOR_FLOP_PER_SM_CLOCK = {
    "volta": {1024}, "turing": {1024}, "ampere": {2048, 1024}, "ada": {1024}, "hopper": {4096},
    "blackwell": {8192, 1024}, "cdna": {1024}, "cdna2": {1024}, "cdna3": {2048},
}
# non-tensor FP32 per SM per clock at the boost clock: 64 or 128 FMA lanes (AMD: matrix FP32 per CU)
FP32_FLOP_PER_SM_CLOCK = {128, 256}
# The export-capped H20 is not in the catalog: its per-SM rate is deliberately not the architecture's.
RATE_TOLERANCE = 0.04  # the L4/L40S datasheets quote peaks 1-4% under their boost clock's


def _nearest_ratio(rate: float, allowed: set[float]) -> float:
    return min((rate / a for a in allowed), key=lambda r: abs(r - 1))


def _half_rate_allowed(prof) -> bool:
    # GeForce-style parts (and the A10G, L40) quote FP16 Tensor with FP32 accumulate at half rate
    notes = tomllib.loads(Path(prof.path).read_text(encoding="utf-8")).get("notes", "").lower()
    return "fp32 accumulate" in notes or "fp32-accumulate" in notes


def test_tensor_peaks_match_sms_times_rate_times_peak_clock(catalog):
    # 989.4 TFLOPS on 132 SMs at the 1980 MHz boost clock is 3786 FLOP/clk/SM, no Hopper rate: the
    # peak is quoted at 1830 MHz. 70 TFLOPS on 72 SMs at 1710 MHz is 568, no GA102 rate: the A10G has 80.
    bad = []
    for prof in catalog:
        if prof.architecture not in TENSOR_FLOP_PER_SM_CLOCK:
            continue  # Pascal: no tensor cores (checked by the FP32 test)
        allowed = set(TENSOR_FLOP_PER_SM_CLOCK[prof.architecture])
        if _half_rate_allowed(prof):
            allowed |= {a / 2 for a in allowed}
        rate = prof.peak("fp16") * 1e12 / (prof.sm_count * prof.peak_clock_mhz * 1e6)
        ratio = _nearest_ratio(rate, allowed)
        if abs(ratio - 1) > RATE_TOLERANCE:
            bad.append(f"{prof.name}: {rate:.0f} FLOP/clk/SM at {prof.peak_clock_mhz:g} MHz ({ratio:.3f} of the nearest rate)")
    assert not bad, bad


def test_fp32_peaks_match_sms_times_lanes_times_boost_clock(catalog):
    bad = []
    for prof in catalog:
        rate = prof.peak("fp32") * 1e12 / (prof.sm_count * prof.boost_clock_mhz * 1e6)
        ratio = _nearest_ratio(rate, FP32_FLOP_PER_SM_CLOCK)
        if abs(ratio - 1) > RATE_TOLERANCE:
            bad.append(f"{prof.name}: {rate:.0f} FP32 FLOP/clk/SM at {prof.boost_clock_mhz:g} MHz")
    assert not bad, bad


def test_rate_check_catches_the_audited_defects(catalog):
    # the two defects issue 13's audit found would fail the checks above
    h100 = catalog.get("H100-SXM")
    rate = h100.peak("fp16") * 1e12 / (h100.sm_count * h100.boost_clock_mhz * 1e6)
    assert abs(_nearest_ratio(rate, TENSOR_FLOP_PER_SM_CLOCK["hopper"]) - 1) > RATE_TOLERANCE
    a10g = catalog.get("A10G")
    old_rate = a10g.peak("fp16") * 1e12 / (72 * a10g.peak_clock_mhz * 1e6)
    assert abs(_nearest_ratio(old_rate, {1024, 512, 2048}) - 1) > RATE_TOLERANCE
    assert (a10g.sm_count, a10g.peak("fp32"), a10g.peak("int8")) == (80, 35, 280)


def test_peak_clock_is_set_and_sourced_in_every_builtin(catalog):
    for prof in catalog:
        raw = tomllib.loads(Path(prof.path).read_text(encoding="utf-8"))
        assert "peak_clock_mhz" in raw, prof.name
        assert prof.sustained_clock_mhz <= prof.peak_clock_mhz <= prof.boost_clock_mhz, prof.name
        assert "peak_clock_mhz" in prof.sources, prof.name
    assert catalog.get("H100-SXM").peak_clock_mhz == 1830
    assert catalog.get("H100-PCIe").peak_clock_mhz == 1620


_FIGURES = (
    "memory_gb", "memory_bandwidth_gbps", "sm_count", "l2_cache_mb", "boost_clock_mhz", "peak_clock_mhz",
    "sustained_clock_mhz", "tdp_w", "interconnect", "interconnect_gbps",
)


def _cites(src: str) -> bool:
    """A document by URL, a derivation showing its arithmetic, or a pointer to a sourced clock with its check."""
    derived = ("DERIVED" in src or "INFERRED" in src) and "=" in src
    pointer = src.startswith(("the boost clock", "the peak engine clock")) and "check:" in src
    return "http" in src or derived or pointer


def test_every_figure_has_a_source(catalog):
    missing = []
    for prof in catalog:
        keys = [k for k in _FIGURES if getattr(prof, k, None) is not None]
        keys += [k for k in ("pcie_gbps", "launch_price_usd", "idle_power_w") if getattr(prof, k) is not None]
        keys += [f"peak_tflops.{p}" for p in prof.peak_tflops]
        for key in keys:
            if not _cites(prof.source_for(key)):
                missing.append(f"{prof.name}: {key}: {prof.source_for(key)!r}")
    assert not missing, missing


def test_peak_clock_outside_base_and_boost_is_rejected(tmp_path):
    bad = tmp_path / "peak.toml"
    bad.write_text(minimal_profile(peak_clock_mhz="2100"), encoding="utf-8")
    with pytest.raises(ProfileError, match=r"peak\.toml: key 'peak_clock_mhz': expected the clock the peaks are quoted at, "
                                           r"between sustained_clock_mhz \(1590\) and boost_clock_mhz \(1980\), got 2100"):
        load_catalog(tmp_path)
    low = tmp_path / "peak.toml"
    low.write_text(minimal_profile(peak_clock_mhz="1500"), encoding="utf-8")
    with pytest.raises(ProfileError, match="'peak_clock_mhz'"):
        load_catalog(tmp_path)


def test_peak_clock_defaults_to_the_boost_clock(tmp_path):
    (tmp_path / "mine.toml").write_text(minimal_profile("Mine-GPU"), encoding="utf-8")
    mine = load_catalog(tmp_path).get("Mine-GPU")
    assert mine.peak_clock_mhz == mine.boost_clock_mhz == 1980


def test_every_profile_is_listed_in_the_interfaces_doc(catalog):
    doc = (PROFILES_DIR.parent / "docs" / "INTERFACES.md").read_text(encoding="utf-8")
    listed = set()
    for heading in ("## Canonical GPU names (", "## Canonical GPU names of profiles pricing does not quote"):
        body = doc.split(heading, 1)[1].split("\n", 2)[2].split("##", 1)[0]
        listed |= {n.strip().rstrip(".") for n in body.replace("\n", " ").split(",") if n.strip()}
    assert listed == set(catalog.names)


# --- idle power ----------------------------------------------------------------------------------


def test_sourced_idle_power_has_its_own_source_and_sits_below_tdp(catalog):
    sourced = [p for p in catalog if p.idle_power_w is not None]
    assert {p.name for p in sourced} >= {"T4", "A100-40GB-SXM", "V100-SXM2-16GB", "A10G"}
    for prof in sourced:
        assert "idle_power_w" in prof.sources, f"{prof.name}: an idle figure needs its own source"
        assert 0 < prof.idle_power_w < prof.tdp_w
        assert prof.idle_power() == (prof.idle_power_w, False)


def test_idle_fallback_is_the_median_ratio_of_the_sourced_figures_and_is_marked_estimated(catalog):
    ratios = sorted(p.idle_power_w / p.tdp_w for p in catalog if p.idle_power_w is not None)
    mid = len(ratios) // 2
    median = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    assert IDLE_POWER_FALLBACK_FRACTION == pytest.approx(median, abs=0.0005)
    h200 = catalog.get("H200")
    assert h200.idle_power_w is None
    assert h200.idle_power() == (pytest.approx(700 * IDLE_POWER_FALLBACK_FRACTION), True)


def test_idle_power_at_or_above_tdp_is_rejected(tmp_path):
    bad = tmp_path / "idle.toml"
    bad.write_text(minimal_profile(idle_power_w="700"), encoding="utf-8")
    with pytest.raises(ProfileError, match=r"idle\.toml: key 'idle_power_w': expected the board power at idle, below tdp_w \(700\)"):
        load_catalog(tmp_path)
    ok = tmp_path / "idle.toml"
    ok.write_text(minimal_profile(idle_power_w="60"), encoding="utf-8")
    assert load_catalog(tmp_path).get("Test-GPU").idle_power() == (60.0, False)


def test_integer_issue_rate_follows_the_int32_lanes(catalog):
    # weight-only formats unpack on the INT32 lanes: 64 per SM from Volta to Hopper, whatever the FP32
    # width (GA10x/Ada/Hopper doubled only FP32), every FP32 lane on Blackwell and Pascal
    def ratio(name):
        p = catalog.get(name)
        return p.int32_ops_per_s / (p.peak("fp32") * 1e12)

    assert ratio("RTX-3090") == pytest.approx(0.25, rel=0.01)  # 128 FP32 lanes, 64 INT32
    assert ratio("RTX-4090") == pytest.approx(0.25, rel=0.01)
    assert ratio("H100-SXM") == pytest.approx(0.25, rel=0.01)
    assert ratio("A100-80GB-SXM") == pytest.approx(0.5, rel=0.01)  # 64 and 64: one op per FMA's 2 FLOPs
    assert ratio("V100-SXM2-16GB") == pytest.approx(0.5, rel=0.01)
    assert ratio("RTX-5090") == pytest.approx(0.5, rel=0.01)  # Blackwell: unified FP32/INT32 lanes
