"""Public AWS prices (us-east-2) and an estimate of what one pipeline run costs.

The prices are on-demand list prices as the author knew them, NOT looked up live when this
file was written (no network access to the price pages): check them against
https://aws.amazon.com/pricing/ before quoting a figure. Free tiers are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRICES_AS_OF = "2025-01 (from memory of the public price pages; not verified live)"
REGION = "us-east-2"

# name -> (USD, unit, note)
PRICES: dict[str, tuple[float, str, str]] = {
    "glue_dpu_hour": (0.44, "per DPU-hour", "Glue ETL jobs, billed per second, 1-minute minimum (Glue 2.0+)"),
    "glue_crawler_dpu_hour": (0.44, "per DPU-hour", "Glue crawler, billed per second, 10-minute minimum"),
    "athena_tb_scanned": (5.00, "per TB scanned", "10 MB minimum per query"),
    "sfn_1000_transitions": (0.025, "per 1,000 state transitions", "Step Functions standard workflows"),
    "lambda_gb_second": (0.0000166667, "per GB-second", "x86; arm64 is 20 % less"),
    "lambda_request": (0.20 / 1_000_000, "per request", "$0.20 per million"),
    "redshift_rpu_hour": (0.375, "per RPU-hour", "Redshift Serverless, per second, 60-second minimum"),
    "s3_put_1000": (0.005, "per 1,000 PUT/COPY/POST/LIST", "S3 Standard"),
    "s3_get_1000": (0.0004, "per 1,000 GET/SELECT", "S3 Standard"),
}


def price(name: str) -> float:
    return PRICES[name][0]


@dataclass
class RunInputs:
    """What one run uses, measured locally and mapped onto the AWS services (see bench/__main__.py)."""

    glue_seconds: float  # wall time of the Glue job (local: the Clean state)
    glue_dpus: float = 2.0  # template.yaml: G.1X x 2 workers = 2 DPUs
    crawler_seconds: float = 0.0  # 0 when the crawl is skipped
    crawler_dpus: float = 2.0
    athena_bytes_scanned: int = 0
    athena_queries: int = 1
    transitions: int = 0
    lambda_gb_seconds: float = 0.0
    lambda_requests: int = 0
    rpu_seconds: float = 0.0  # Redshift Serverless RPUs x seconds the Load keeps it busy
    s3_puts: int = 0
    s3_gets: int = 0


@dataclass
class Estimate:
    lines: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def estimate(run: RunInputs, base_rpus: float = 8.0) -> Estimate:
    """USD for one run, per service, with each service's minimum billing applied."""
    tb = 1e12
    glue_s = max(run.glue_seconds, 60.0) if run.glue_seconds > 0 else 0.0
    crawl_s = max(run.crawler_seconds, 600.0) if run.crawler_seconds > 0 else 0.0
    athena_bytes = max(run.athena_bytes_scanned, 10 * 2**20 * run.athena_queries) if run.athena_queries else 0
    rpu_s = max(run.rpu_seconds, 60.0 * base_rpus) if run.rpu_seconds > 0 else 0.0
    return Estimate(
        {
            "glue_job": glue_s / 3600 * run.glue_dpus * price("glue_dpu_hour"),
            "glue_crawler": crawl_s / 3600 * run.crawler_dpus * price("glue_crawler_dpu_hour"),
            "athena": athena_bytes / tb * price("athena_tb_scanned"),
            "step_functions": run.transitions / 1000 * price("sfn_1000_transitions"),
            "lambda": run.lambda_gb_seconds * price("lambda_gb_second") + run.lambda_requests * price("lambda_request"),
            "redshift_serverless": rpu_s / 3600 * price("redshift_rpu_hour"),
            "s3_requests": run.s3_puts / 1000 * price("s3_put_1000") + run.s3_gets / 1000 * price("s3_get_1000"),
        }
    )


def price_table() -> str:
    rows = [f"AWS prices, {REGION}, as of {PRICES_AS_OF}"]
    rows += [f"  {name:<24} ${usd:<14.10g} {unit:<30} {note}" for name, (usd, unit, note) in PRICES.items()]
    return "\n".join(rows)
