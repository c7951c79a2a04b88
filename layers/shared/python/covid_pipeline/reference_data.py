"""The reference data shipped inside the package (``covid_pipeline/reference/``), read as CSV rows.

Read through importlib.resources, so it works from the Lambda layer, an installed
package and the Glue job's zip of modules alike.
"""

from __future__ import annotations

import csv
import io
from importlib import resources


def reference_bytes(name: str) -> bytes:
    return (resources.files("covid_pipeline") / "reference" / name).read_bytes()


def reference_csv(name: str) -> list[dict[str, str]]:
    """The rows of a shipped CSV file, by header name (a UTF-8 BOM is ignored)."""
    return list(csv.DictReader(io.StringIO(reference_bytes(name).decode("utf-8-sig"))))
