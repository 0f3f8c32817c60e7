"""Rebuild the embedded snapshot (data/snapshot_*.csv) from the shared SkyPilot-catalog extract.

    python -m phantom_report.pricing.snapshot_build /work/shared/data/prices

Rows are copied verbatim (no price is computed or edited here); files that lack a provenance
column get one naming the upstream file@commit from the extract's README.  Name mapping, GCP host +
GPU composition and sanity rules happen at load time (snapshot.py), so they are tested code, not
baked-in data.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

_GCP_SOURCE = "skypilot-catalog catalogs/v9/gcp/vms.csv@2c3d7ea7"
# shared file -> (embedded file, provenance to add when the file has no Source column)
FILES: dict[str, tuple[str, str | None]] = {
    "aws_gpu_vms_v9_subset.csv": ("snapshot_aws.csv", None),
    "gcp_gpu_host_vms_v9.csv": ("snapshot_gcp_hosts.csv", _GCP_SOURCE),
    "gcp_gpu_accelerators_v9.csv": ("snapshot_gcp_accelerators.csv", _GCP_SOURCE),
    "azure_gpu_vms_v6.csv": ("snapshot_azure.csv", None),
    "lambda_gpu_vms_v9_partial.csv": ("snapshot_lambda.csv", None),
    "runpod_gpu_vms_v8_partial.csv": ("snapshot_runpod.csv", None),
}


def build(src_dir: Path, dest_dir: Path) -> list[Path]:
    """Copy the shared extract's CSVs from src_dir into dest_dir verbatim (adding a Source column where
    the upstream file has none); returns the files written."""
    written = []
    for src_name, (dest_name, add_source) in FILES.items():
        with open(src_dir / src_name, newline="") as f:
            rows = list(csv.DictReader(f))
            fields = list(rows[0].keys()) if rows else []
        if add_source and "Source" not in fields:
            fields.append("Source")
            for r in rows:
                r["Source"] = add_source
        dest = dest_dir / dest_name
        with open(dest, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        written.append(dest)
    return written


if __name__ == "__main__":
    # the raw price exports are maintainers' inputs, not shipped with the package: name the folder
    if len(sys.argv) != 2:
        sys.exit("usage: python -m phantom_report.pricing.snapshot_build PRICE_EXPORT_DIR "
                 "(the folder of raw cloud price CSVs; see pricing/data/README.md)")
    src = Path(sys.argv[1])
    for p in build(src, Path(__file__).parent / "data"):
        print(p)
