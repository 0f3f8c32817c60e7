"""Live EC2 Spot placement scores (boto3 ``ec2.get_spot_placement_scores``).

GetSpotPlacementScores (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetSpotPlacementScores.html)
scores, 1-10 per region, how likely a spot request for the given instance types and target
capacity is to succeed now.  AWS: "If you specify one or two instance types ... the returned
placement score will always be low", so one request asks for every instance type of the same
GPU (the choices a fleet really has) with a target of one instance; each of those types gets the
group's score.  At most ten regions per request (the API's limit).  Every call is bounded by
``FetchSettings`` (timeout, retries); any failure is a ``ProviderUnavailable``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from phantom_report.pricing.clouds import aws as aws_cloud
from phantom_report.pricing.settings import FetchSettings, ProviderUnavailable

API_REGION = "us-east-1"  # the call is regional but scores any regions named in it
MAX_REGIONS_PER_CALL = 10  # RegionNames: max 10 (EC2 API reference)


@dataclass
class PlacementScores:
    """Endpoint (None = AWS), session (None = default credential chain) and limits are injectable."""
    session: Any = None
    endpoint_url: str | None = None
    settings: FetchSettings = field(default_factory=FetchSettings)
    budget_s: float = 30.0  # all requests together; past it the report keeps the snapshot (a warning)

    def fetch(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """(region, instance_type) pairs -> {(region, instance_type): score 1-10} for those scored."""
        from phantom_report.pricing.providers.aws import AwsProvider

        aws = AwsProvider(session=self.session, ec2_endpoint_url=self.endpoint_url, settings=self.settings)
        session = aws._session()  # CredentialsMissing (a ProviderUnavailable) without credentials
        client = aws._client(session, "ec2", API_REGION, self.endpoint_url)
        groups: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        for region, itype in pairs:
            gpu = aws_cloud.instance_gpu(itype)
            if gpu is not None:
                groups[gpu][0].add(itype)
                groups[gpu][1].add(region)
        out: dict[tuple[str, str], int] = {}
        deadline = time.monotonic() + self.budget_s
        for gpu, (types, regions) in sorted(groups.items()):
            ordered = sorted(regions)
            for i in range(0, len(ordered), MAX_REGIONS_PER_CALL):
                if time.monotonic() > deadline:
                    raise ProviderUnavailable(f"aws ec2.get_spot_placement_scores: over the {self.budget_s:g} s budget")
                chunk = ordered[i:i + MAX_REGIONS_PER_CALL]
                scores = aws._call(lambda: _scores(client, sorted(types), chunk),
                                   f"aws ec2.get_spot_placement_scores {gpu}")
                for region, score in scores.items():
                    if region in chunk:
                        out.update({(region, t): score for t in types})
        return out


def _scores(client: Any, types: list[str], regions: list[str]) -> dict[str, int]:
    resp = client.get_spot_placement_scores(InstanceTypes=types, TargetCapacity=1, TargetCapacityUnitType="units",
                                            SingleAvailabilityZone=False, RegionNames=regions)
    out: dict[str, int] = {}
    for s in resp.get("SpotPlacementScores", []):
        score = s.get("Score")
        if not isinstance(score, int) or not 1 <= score <= 10 or not isinstance(s.get("Region"), str):
            raise ProviderUnavailable(f"aws ec2.get_spot_placement_scores: malformed score {s!r:.80}")
        out[s["Region"]] = score
    return out
