"""What py4j looked up in the JVM is kept (adapters/local/jvm_lookups.py): a class or static method is looked up
once, a field and a failed lookup every time. The session's SparkSession has it installed (tests/conftest.py),
as the warm driver has."""

from __future__ import annotations

import pytest
from py4j import java_gateway
from py4j.protocol import Py4JError

from covid_pipeline.adapters.local.jvm_lookups import remember_jvm_lookups

pytestmark = pytest.mark.spark


@pytest.fixture
def round_trips(spark, monkeypatch: pytest.MonkeyPatch) -> list[str]:  # type: ignore[no-untyped-def]
    """Every command the driver sends the JVM from now on (its first line: c call, r reflection, m memory)."""
    client = spark.sparkContext._gateway._gateway_client
    original = client.send_command
    sent: list[str] = []

    def counting(command: str, *args: object, **kwargs: object) -> object:
        sent.append(command)
        return original(command, *args, **kwargs)

    monkeypatch.setattr(client, "send_command", counting)
    return sent


def _reflection(sent: list[str]) -> list[str]:
    return [command for command in sent if command.startswith("r\n")]


def test_a_function_of_pyspark_is_one_call_once_looked_up(spark, round_trips) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    F.col("warm_up")
    F.lit(1)
    round_trips.clear()
    F.col("a")
    F.lit(2)
    # Without the kept lookups each is three: jvm.functions, functions.col, then the call.
    assert [command.split("\n")[:3] for command in round_trips] == [
        ["c", "z:org.apache.spark.sql.functions", "col"],
        ["c", "z:org.apache.spark.sql.functions", "lit"],
    ]


def test_a_static_field_is_read_again_every_time(spark, round_trips) -> None:  # type: ignore[no-untyped-def]
    integer = spark.sparkContext._jvm.java.lang.Integer
    assert integer.MAX_VALUE == 2**31 - 1
    round_trips.clear()
    assert integer.MAX_VALUE == 2**31 - 1
    assert spark.sparkContext._jvm.java.lang.Integer.MAX_VALUE == 2**31 - 1
    assert len(_reflection(round_trips)) == 2  # the field, each time; the class and packages were kept
    assert "MAX_VALUE" not in vars(integer)


def test_a_failed_lookup_is_not_kept(spark, round_trips) -> None:  # type: ignore[no-untyped-def]
    integer = spark.sparkContext._jvm.java.lang.Integer
    for _ in range(2):
        with pytest.raises(Py4JError, match="noSuchMethod does not exist"):
            _ = integer.noSuchMethod
    assert len(_reflection(round_trips)) >= 2
    assert "noSuchMethod" not in vars(integer)


def test_installing_twice_wraps_once(spark) -> None:  # type: ignore[no-untyped-def]
    installed = java_gateway.JVMView.__getattr__
    remember_jvm_lookups()
    assert java_gateway.JVMView.__getattr__ is installed
    assert java_gateway.JavaClass.__getattr__.__name__ == "__getattr__"
