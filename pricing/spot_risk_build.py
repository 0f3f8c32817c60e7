"""Rebuild data/spot_risk_aws.csv from a copy of the AWS Spot Instance Advisor feed.

    python -m phantom_report.pricing.spot_risk_build spot-advisor-data.json "<source text>"

The feed (https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json, the data behind
https://aws.amazon.com/ec2/spot/instance-advisor/) holds, per region, OS and instance type,
``r`` (index into its own ``ranges`` list: "<5%", "5-10%", ...) and ``s`` (savings over
on-demand, %).  Rows are copied verbatim for Linux and the GPU instance families the pricing
package maps (``clouds.aws.FAMILY_GPU``, from data/aws_instances.csv); the bucket label is the feed's own label for ``r``.
Nothing is computed or edited here.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from phantom_report.pricing.clouds import aws as aws_cloud

COLUMNS = ("provider", "region", "instance_type", "interruption_bucket", "advisor_range_index",
           "savings_over_on_demand_pct", "source")


def build_rows(doc: dict, source: str) -> list[dict[str, str]]:
    """Flatten the feed to one row per (region, GPU instance type), Linux only, sorted."""
    labels = {int(r["index"]): str(r["label"]) for r in doc["ranges"]}
    rows = []
    for region, by_os in sorted(doc["spot_advisor"].items()):
        for itype, v in sorted(by_os.get("Linux", {}).items()):
            if aws_cloud.instance_gpu(itype) is None:
                continue
            rows.append({"provider": "aws", "region": region, "instance_type": itype,
                         "interruption_bucket": labels[int(v["r"])], "advisor_range_index": str(int(v["r"])),
                         "savings_over_on_demand_pct": str(int(v["s"])), "source": source})
    return rows


def main(argv: list[str]) -> int:
    """`python -m phantom_report.pricing.spot_risk_build <spot-advisor-data.json> <source>`: rewrite
    data/spot_risk_aws.csv from the feed; exit status 0, or 2 on wrong arguments."""
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    doc = json.loads(Path(argv[0]).read_text())
    rows = build_rows(doc, argv[1])
    dest = Path(__file__).parent / "data" / "spot_risk_aws.csv"
    with open(dest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
