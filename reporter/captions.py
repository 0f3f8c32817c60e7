"""Chart captions: one sentence or two per chart saying what to read from it, with the chart's own
numbers, so a reader who skips the axes still gets the point. Shown under the chart (HTML and PDF)
and kept in report.json beside the plotted data."""

from __future__ import annotations

from collections.abc import Sequence

from phantom_report.reporter import fmt


def cost_by_gpu(confidence_pct: int, recommended: str | None, recommended_usd: float | None,
                overlapping: int) -> str:
    """Caption of the cheapest-option-per-GPU bar chart. ``overlapping``: how many other bars have
    an interval that reaches below the recommendation's central cost (could be as cheap)."""
    text = (f"Each bar is the cheapest way to meet every SLO on that GPU; the whisker is its "
            f"{confidence_pct}% interval (a long whisker is an uncertain cost).")
    if recommended is None or recommended_usd is None:
        return text
    text += f" The outlined bar is the recommendation ({recommended}, {fmt.usd(recommended_usd)}/month)"
    if overlapping:
        return text + (f"; {overlapping} other bar{'s' if overlapping > 1 else ''} reach{'' if overlapping > 1 else 'es'} "
                       "below it within the interval, so compare those before committing.")
    return text + "; no other bar reaches below it within the interval."


def sensitivity(steps: Sequence[float], monthly_usd: Sequence[float]) -> str:
    """Caption of the recommendation's cost-versus-demand line."""
    at = dict(zip(steps, monthly_usd))
    text = ("How the recommendation's monthly cost follows demand if the forecast is wrong "
            "(1x = forecast); a steep step means another instance must be added.")
    if 1.0 in at and 2.0 in at and 0.5 in at:
        text += (f" At half the demand it costs {fmt.usd(at[0.5])}/month, at the forecast {fmt.usd(at[1.0])}, "
                 f"at twice the demand {fmt.usd(at[2.0])}.")
    return text


def cost_vs_latency(meets: int, total: int) -> str:
    """Caption of the latency-versus-cost scatter of every configuration."""
    text = "Each point is one GPU configuration at its cheapest price; lower is cheaper, further left is faster."
    if meets == 0:
        return text + (f" None of the {total} meets the SLOs (all red): the points furthest down and left are "
                       "the nearest misses, listed under the closest configurations.")
    share = "All" if meets == total else f"{meets} of"
    return text + (f" {share} {total} meet the SLOs (green): the lowest green point is the cheapest option that "
                   "meets them, and green points left of it buy latency headroom for more money.")
