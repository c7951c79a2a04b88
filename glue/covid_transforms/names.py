"""Region names as written -> the regions they mean (covid_pipeline.region_names), for Spark frames.

The resolution itself is plain Python, one implementation for every engine: each
frame's distinct (country, province, county) triples - a few thousand, however many
rows - are resolved on the driver and joined back (broadcast) as three columns.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from covid_pipeline.region_names import Region, RegionResolver

from .states import StateLookups

RESOLVED_COUNTRY = "res_country"
RESOLVED_STATE = "res_state"
RESOLVED_COUNTY = "res_county"
_RAW = ("_raw_country", "_raw_state", "_raw_county")
_MAPPING_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType()) for name in (*_RAW, RESOLVED_COUNTRY, RESOLVED_STATE, RESOLVED_COUNTY)]
)


def build_resolver(uid_accepted: DataFrame, lookups: StateLookups) -> RegionResolver:
    """A resolver over the accepted UID lookup rows and the US postal codes (small frames, collected)."""
    regions = [
        Region(row[0], row[1], row[2])
        for row in uid_accepted.select("country_region", "province_state", "admin2").collect()
    ]
    codes = {row[0]: row[1] for row in lookups.name_by_abbr.select("_lookup_key", "_lookup_value").collect()}
    return RegionResolver(regions, codes)


def with_resolved_names(
    df: DataFrame, resolver: RegionResolver, country: Column, state: Column, county: Column
) -> DataFrame:
    """``df`` with res_country, res_state and res_county: the region each row's names mean."""
    raw = df.withColumns({_RAW[0]: country, _RAW[1]: state, _RAW[2]: county})
    names = raw.select(*_RAW).distinct().collect()
    resolved = []
    for c, s, k in names:
        region = resolver.resolve(c, s, k)
        resolved.append((c, s, k, region.country, region.province, region.county))
    mapping = df.sparkSession.createDataFrame(resolved, _MAPPING_SCHEMA).withColumnsRenamed(
        {name: f"_m{name}" for name in _RAW}
    )
    condition = [raw[name].eqNullSafe(mapping[f"_m{name}"]) for name in _RAW]
    joined = raw.join(F.broadcast(mapping), condition, "left")
    return joined.drop(*_RAW, *(f"_m{name}" for name in _RAW))
