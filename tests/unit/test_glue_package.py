"""The Glue job's --extra-py-files zip is complete: the transforms import from it alone."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from glue.package import LIBS_KEY, build
from tests.helpers import ROOT


def test_zip_holds_the_transforms_and_only_the_contract_modules(tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(build(tmp_path / "libs.zip")).namelist())
    assert "covid_transforms/star.py" in names
    assert {"covid_pipeline/schema.py", "covid_pipeline/feeds.py", "covid_pipeline/keys.py"} <= names
    assert "covid_pipeline/composition.py" not in names  # pydantic/boto3/DuckDB stay out of Glue


def test_zip_is_deterministic(tmp_path: Path) -> None:
    assert build(tmp_path / "a.zip").read_bytes() == build(tmp_path / "b.zip").read_bytes()


def test_transforms_import_from_the_zip_alone(tmp_path: Path) -> None:
    libs = build(tmp_path / "libs.zip")
    # -S: no site processing, so the editable install of this repo is not on the path; pyspark is added
    # from site-packages by hand, after the zip, as Glue puts --extra-py-files before its own libraries.
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2]);"
        "import covid_transforms.star as s, covid_pipeline.schema as c;"
        "assert s.__file__.startswith(sys.argv[1]) and c.__file__.startswith(sys.argv[1]), (s.__file__, c.__file__);"
        "print('ok')"
    )
    site = sysconfig.get_paths()["purelib"]
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code, str(libs), site], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_template_points_the_job_at_the_uploaded_zip() -> None:
    text = (ROOT / "template.yaml").read_text()
    assert f'--extra-py-files: !Sub "s3://${{LakeBucket}}/{LIBS_KEY}"' in text
