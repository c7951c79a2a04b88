"""Remember what py4j looked up in the JVM, for a long-lived local Spark driver (warm_spark.py).

py4j asks the JVM again at every access to a class or a static method: ``pyspark.sql.functions.col("x")``
is three round trips, ``jvm.functions`` (the JVM tries every imported package, the slowest of them),
``functions.col`` (reflection), then the call. A Clean builds a few hundred DataFrames from thousands of
such calls; measured on a warm driver (lake sample, 2-core machine), 6,000 of its 12,600 round trips
while building the star were these lookups, ~1.7 s of its ~7 s. A class, a package or a static
method does not change while the JVM lives, so the answer is kept on the Python object that asked: the
next access is an attribute read, no round trip. A static *field* is not kept (its value may change),
nor anything that failed.

Local only: nothing on Glue imports this module, and the queries built are the same objects either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_INSTALLED = "_covid_pipeline_remembers_lookups"


def remember_jvm_lookups() -> None:
    """Keep every class, package and static method py4j resolves, on the object that resolved it (idempotent)."""
    from py4j import java_gateway as gw

    if getattr(gw.JVMView, _INSTALLED, False):
        return

    def remembering(original: Callable[[Any, str], Any], kept: tuple[type, ...]) -> Callable[[Any, str], Any]:
        def __getattr__(self: Any, name: str) -> Any:  # replaces py4j's own
            value = original(self, name)
            if isinstance(value, kept):
                # __getattr__ runs only when plain attribute lookup fails: next time that lookup finds it.
                object.__setattr__(self, name, value)
            return value

        return __getattr__

    gw.JVMView.__getattr__ = remembering(gw.JVMView.__getattr__, (gw.JavaClass, gw.JavaPackage))  # type: ignore[method-assign]
    gw.JavaPackage.__getattr__ = remembering(gw.JavaPackage.__getattr__, (gw.JavaClass, gw.JavaPackage))  # type: ignore[method-assign]
    gw.JavaClass.__getattr__ = remembering(gw.JavaClass.__getattr__, (gw.JavaClass, gw.JavaMember))  # type: ignore[method-assign]
    setattr(gw.JVMView, _INSTALLED, True)
