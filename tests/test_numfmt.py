"""phantom_report/numfmt.py: the one home of number-to-text formatting (issue 16). The texts here
are what reports, the validation report and the terminal tables print."""

from __future__ import annotations

import numpy as np
import pytest

from phantom_report import numfmt as N


@pytest.mark.parametrize("v", [None, float("nan"), float("inf"), -float("inf"), np.float32("nan"), np.float64("inf")])
def test_missing_values_print_the_missing_text(v):
    assert N.is_missing(v)
    assert (N.num(v), N.usd(v), N.pct(v), N.ms(v), N.months(v)) == ("n/a", "n/a", "n/a", "n/a", "never")
    assert (N.compact(v), N.fraction_pct(v), N.num(v, missing="—")) == ("—", "—", "—")


@pytest.mark.parametrize("v, text", [
    (0, "0"), (0.0123456, "0.0123"), (1.5, "1.5"), (12.345, "12.3"), (123.4, "123"), (999.6, "1,000"),
    (12_345.6, "12,346"), (2_500_000, "2.50M"), (-3.2e9, "-3.20B")])
def test_num(v, text):
    assert N.num(v) == text


@pytest.mark.parametrize("v, text", [
    (0, "$0"), (0.01234, "$0.0123"), (12.345, "$12.35"), (1234.5, "$1,234"), (2_345_678, "$2.35M"), (-5.5, "-$5.50")])
def test_usd(v, text):
    assert N.usd(v) == text


def test_percentages_and_durations():
    assert N.pct(12.34) == "12%" and N.pct(12.34, 1) == "12.3%" and N.pct(1234.5, 1) == "1,234.5%"
    assert N.fraction_pct(0.1234) == "12.3%" and N.fraction_pct(0.5, 0) == "50%"
    assert (N.ms(1.234), N.ms(123.4), N.ms(12_345)) == ("1.2 ms", "123 ms", "12.35 s")
    assert N.months(7.25) == "7.2 months"
    assert N.share_below(0.897, 0.9) == "89.7%" and N.share_below(0.85, 0.9) == "85%"
    assert N.interval(N.num, 1.5, 2.5) == "1.5–2.5"


@pytest.mark.parametrize("v, text", [(0.01234, "0.0123"), (1.5, "1.50"), (12.34, "12.3"), (1234.5, "1,234")])
def test_compact_keeps_decimals_by_magnitude(v, text):
    assert N.compact(v) == text
    assert N.compact_range(v, v, v) == f"{text} ({text}–{text})"


def test_reporter_fmt_and_engine_use_this_module():
    """One implementation: the reporter's fmt and the validation report's summary delegate here."""
    from phantom_report.engine.validation_report import format_summary
    from phantom_report.reporter import fmt

    assert fmt.num is N.num and fmt.usd is N.usd and fmt.pct is N.pct
    assert format_summary({"n": 3, "median_ape": 0.1234, "mape": None, "median_log_bias": 0.0213})["median_ape"] == "12.3%"
    assert format_summary({"n": 3, "mape": None})["mape"] == "—"
