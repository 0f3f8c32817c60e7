"""Spot interruption risk per (provider, region, instance type) and the overhead it costs.

**Data** (data/spot_risk_aws.csv, provenance in data/README.md): the AWS Spot Instance Advisor
"frequency of interruption" bucket of every GPU instance type and region, copied verbatim from a
published copy of the advisor feed.  Azure publishes eviction-rate buckets only through Azure
Resource Graph (``SpotResources``) and the portal, and no published copy was found; GCP publishes
no per-type preemption rate at all.  Those, and AWS types the snapshot lacks (newer than it),
are ``unknown``: they get ``SpotRiskModel.unknown_overhead``, an assumption, labelled as such.

**Model** (one formula, parameters are spec settings ``pricing.spot_risk``): the overhead is the
extra GPU time a spot fleet spends because of interruptions, as a fraction of useful time::

    interruptions per hour = bucket upper bound / window_hours
    lost hours per interruption = checkpoint_interval_hours / 2 + restart_hours
    overhead = interruptions per hour x lost hours per interruption

The advisor's bucket is the share of spot instances AWS reclaimed over the trailing month; it
does not say over how many hours of running, so ``window_hours`` (default 24) reads it as "that
share of instances is interrupted once per day of running" -- a conservative reading (a month
of running would give ~30x fewer interruptions).  The bucket's upper bound is used (">20%" has
the feed's own maximum, 100%).  On average half a checkpoint interval of work is lost, plus the
time to get capacity back, boot and reload (``restart_hours``).  A user's flat
``pricing.spot_interruption_overhead`` replaces the model for every spot row.

**Live** (``placement_scores``): EC2 GetSpotPlacementScores (boto3) gives a 1-10 score per
region of how likely a spot request for the type is to succeed now.  AWS documents it as launch
likelihood, not interruption frequency, so it is shown beside the bucket and does not change the
overhead.  Any failure leaves the snapshot alone and returns a warning.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

UNKNOWN = "unknown"
# bucket label -> (lower, upper) share of instances interrupted.  AWS labels and the ">20%"
# maximum (100) are the advisor feed's own `ranges`; Azure labels are the portal's / ARG's.
BUCKET_BOUNDS: dict[str, tuple[float, float]] = {
    "<5%": (0.0, 0.05), "5-10%": (0.05, 0.10), "10-15%": (0.10, 0.15), "15-20%": (0.15, 0.20),
    ">20%": (0.20, 1.0),
    "0-5%": (0.0, 0.05), "20+%": (0.20, 1.0),
}
SNAPSHOT_FILES = {"aws": "spot_risk_aws.csv"}
SNAPSHOT_AS_OF = {"aws": "2024-02-28"}  # commit date of the copy: data no newer than this (data/README.md)
SNAPSHOT_SOURCE = {"aws": "AWS Spot Instance Advisor feed (https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json), "
                          "copy at ETOgaosion/bamboo@0faa479fbca26f06d74fa8e356ca06d88ab1f862:data/spot-advisor-data.json"}
# why a provider's rows are unknown (shown in the methodology and per row)
UNKNOWN_REASON = {
    "aws": "instance type/region not in the Spot Instance Advisor snapshot",
    "azure": "Azure publishes eviction rates only via Resource Graph/portal; no sourced copy embedded",
    "gcp": "GCP publishes no per-type preemption rate; Compute Engine may preempt Spot VMs at any time, with a "
           "probability that 'might vary from day to day and from zone to zone'",
}
PLACEMENT_REGIONS_PER_CALL = 10  # a bounded request: at most this many regions per instance type


@dataclass(frozen=True)
class SpotRiskModel:
    """Parameters of the overhead model (spec ``pricing.spot_risk``); see the module docstring."""
    checkpoint_interval_hours: float = 1.0
    restart_hours: float = 0.25
    window_hours: float = 24.0
    unknown_overhead: float = 0.15
    override: float | None = None  # the user's flat pricing.spot_interruption_overhead

    def lost_hours_per_interruption(self) -> float:
        """GPU hours lost per interruption: half a checkpoint interval of work plus the restart time."""
        return self.checkpoint_interval_hours / 2.0 + self.restart_hours

    def bucket_overhead(self, bucket: str) -> float:
        """Overhead (fraction of extra GPU time) of a bucket label; unknown -> unknown_overhead."""
        if bucket not in BUCKET_BOUNDS:
            return self.unknown_overhead
        per_hour = BUCKET_BOUNDS[bucket][1] / self.window_hours
        return per_hour * self.lost_hours_per_interruption()


@dataclass(frozen=True)
class SpotRisk:
    """Risk of one (provider, region, instance type): bucket label (or "unknown"), the overhead
    applied, where it comes from (``basis``), and the live placement score when one was fetched."""
    bucket: str
    overhead: float
    basis: str
    placement_score: int | None = None


@dataclass(frozen=True)
class RiskTable:
    """Snapshot buckets (+ live placement scores) and the model that turns them into overhead."""
    buckets: Mapping[tuple[str, str, str], str]
    model: SpotRiskModel = SpotRiskModel()
    placement_scores: Mapping[tuple[str, str], int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def risk(self, provider: str, region: str, instance_type: str) -> SpotRisk:
        """The spot risk of one (provider, region, instance type): its bucket (or 'unknown'), the
        overhead the model gives it and why, with the live placement score when one was fetched."""
        bucket = self.buckets.get((provider, region, instance_type), UNKNOWN)
        score = self.placement_scores.get((region, instance_type)) if provider == "aws" else None
        m = self.model
        if m.override is not None:
            return SpotRisk(bucket, m.override, f"flat override pricing.spot_interruption_overhead {m.override:.0%}", score)
        if bucket == UNKNOWN:
            why = UNKNOWN_REASON.get(provider, "no published interruption rate")
            return SpotRisk(bucket, m.unknown_overhead, f"unknown: {why}; assumed {m.unknown_overhead:.0%}", score)
        src = f"AWS Spot Instance Advisor, as of {SNAPSHOT_AS_OF[provider]}" if provider == "aws" else provider
        return SpotRisk(bucket, m.bucket_overhead(bucket), f"{src}: {bucket} interruptions/month", score)


@lru_cache(maxsize=1)  # immutable package data: safe to memoise
def _snapshot_rows() -> tuple[dict[str, str], ...]:
    rows: list[dict[str, str]] = []
    for name in SNAPSHOT_FILES.values():
        with resources.files("phantom_report.pricing").joinpath("data", name).open(newline="") as f:
            rows += list(csv.DictReader(f))
    return tuple(rows)


def snapshot_buckets() -> dict[tuple[str, str, str], str]:
    """(provider, region, instance_type) -> interruption bucket label, from the embedded snapshot."""
    return {(r["provider"], r["region"], r["instance_type"]): r["interruption_bucket"] for r in _snapshot_rows()}


def load(model: SpotRiskModel = SpotRiskModel(), *, offline: bool = True, aws_pairs: Iterable[tuple[str, str]] = (),
         placement: Any = None) -> RiskTable:
    """The risk table: the snapshot, plus live placement scores for ``aws_pairs`` ((region,
    instance_type)) unless offline.  ``placement`` is a ``PlacementScores`` client (tests point it
    at a local server); None = the default boto3 chain.  Never raises for a network/API problem:
    the snapshot stands and a warning says why."""
    buckets = snapshot_buckets()
    pairs = sorted(set(aws_pairs))
    if offline or not pairs:
        return RiskTable(buckets, model)
    from phantom_report.pricing.providers.aws_placement import PlacementScores
    from botocore.exceptions import BotoCoreError

    from phantom_report.pricing.settings import ProviderUnavailable

    client = placement or PlacementScores()
    try:
        scores = client.fetch(pairs)
    except (ProviderUnavailable, BotoCoreError) as exc:
        return RiskTable(buckets, model, {}, (f"{exc}; spot risk from the Spot Instance Advisor snapshot "
                                               f"(as of {SNAPSHOT_AS_OF['aws']}) without live placement scores",))
    return RiskTable(buckets, model, scores)
