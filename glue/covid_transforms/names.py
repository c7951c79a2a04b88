"""Region names as written -> the regions they mean (covid_pipeline.region_names), for Spark frames.

The resolution itself is plain Python, one implementation for every engine: the distinct
(country, province, county) triples of a run's frames - a few thousand, however many rows -
are collected in one Spark job, resolved on the driver, and joined back (broadcast) as three
columns. The resolver reads the lookups as staged (small frames, one collect): building it
never waits for their validation.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from covid_pipeline.keys import normalise_part, region_key, region_level
from covid_pipeline.region_names import Region, RegionResolver

from .frames import union_by_name

RESOLVED_COUNTRY = "res_country"
RESOLVED_STATE = "res_state"
RESOLVED_COUNTY = "res_county"
RESOLVED = (RESOLVED_COUNTRY, RESOLVED_STATE, RESOLVED_COUNTY)
# Whether the names as written are the resolved ones (not a stale alias of them): decided per distinct name.
AS_WRITTEN = "res_as_written"
_RAW = ("_raw_country", "_raw_state", "_raw_county")
_MAPPING_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType()) for name in (*_RAW, *RESOLVED)]
    + [
        T.StructField(AS_WRITTEN, T.BooleanType()),
        T.StructField("region_key", T.LongType()),
        T.StructField("region_level", T.StringType()),
    ]
)

# The names a frame's rows are written with: (frame, country, province/state, county) columns.
NameSource = tuple[DataFrame, Column, Column, Column]


def build_resolver(uid_staged: DataFrame, state_tables: Sequence[DataFrame]) -> RegionResolver:
    """A resolver over the UID lookup's regions and the US postal codes, from the staged lookups.

    ``state_tables``: staged frames with ``state_abbr`` and ``state_name`` (the project's state
    table, the lake's). The lookup's territories (state-level US rows) add their iso2 codes.
    """
    text = T.StringType()
    parts = [
        uid_staged.select(
            F.lit("uid").alias("kind"),
            F.col("country_region").cast(text).alias("a"),
            F.col("province_state").cast(text).alias("b"),
            F.col("admin2").cast(text).alias("c"),
            F.col("iso2").cast(text).alias("d"),
        ),
        *[
            t.select(
                F.lit("code").alias("kind"),
                F.col("state_abbr").alias("a"),
                F.col("state_name").alias("b"),
                F.lit(None).cast(text).alias("c"),
                F.lit(None).cast(text).alias("d"),
            )
            for t in state_tables
        ],
    ]
    rows = union_by_name(parts).collect()
    regions = [Region(r.a, r.b, r.c) for r in rows if r.kind == "uid"]
    codes: dict[str, str] = {}
    for r in rows:
        if r.kind == "code" and r.a and r.b:
            codes.setdefault(r.a.strip().upper(), r.b)
    for r in rows:  # territories: GU, VI, AS, MP (the lookup's iso2 of a US state-level row)
        iso2 = (r.d or "").strip().upper()
        if r.kind == "uid" and (r.a or "").strip() == "US" and r.b and not r.c and iso2 not in ("", "US"):
            codes.setdefault(iso2, r.b)
    return RegionResolver(regions, codes)


def resolved_names(
    resolver: RegionResolver, sources: Sequence[NameSource], spark: SparkSession | None = None
) -> DataFrame:
    """One mapping (names as written -> resolved names, region key and level) for every distinct name: one job.

    The key and level are computed here, once per distinct name (covid_pipeline.keys, which the Spark
    expressions of covid_transforms.keys equal): no row pays for a hash. Without ``sources`` (a run of
    CTP files alone) the mapping is empty, on ``spark``.
    """
    selects = [df.select(c.alias(_RAW[0]), s.alias(_RAW[1]), k.alias(_RAW[2])) for df, c, s, k in sources]
    names = union_by_name(selects).distinct().collect() if selects else []
    if spark is None:
        spark = sources[0][0].sparkSession
    rows = []
    for c, s, k in names:
        region = resolver.resolve(c, s, k)
        written = [normalise_part(x) for x in (c, s, k)]
        as_written = written == [normalise_part(x) for x in (region.country, region.province, region.county)]
        key = region_key(region.country, region.province, region.county)
        level = region_level(region.province, region.county)
        rows.append((c, s, k, region.country, region.province, region.county, as_written, key, level))
    return spark.createDataFrame(rows, _MAPPING_SCHEMA)


def with_resolved_names(
    df: DataFrame,
    names: RegionResolver | DataFrame,
    country: Column,
    state: Column,
    county: Column,
    keep_names: bool = True,
) -> DataFrame:
    """``df`` with the region each row's names mean: region_key, region_level, res_as_written, and (keep_names)
    res_country, res_state, res_county.

    ``names``: the mapping of resolved_names (covering this frame's names), or a resolver to build one
    for this frame alone. Without keep_names, the rows stay narrow (the names are three strings per row
    through every later shuffle); names_by_region gives them back where needed.
    """
    raw = df.withColumns({_RAW[0]: country, _RAW[1]: state, _RAW[2]: county})
    mapping = resolved_names(names, [(df, country, state, county)]) if isinstance(names, RegionResolver) else names
    wanted = [*_RAW, AS_WRITTEN, "region_key", "region_level", *(RESOLVED if keep_names else ())]
    mapping = mapping.select(*wanted).withColumnsRenamed({name: f"_m{name}" for name in _RAW})
    condition = [raw[name].eqNullSafe(mapping[f"_m{name}"]) for name in _RAW]
    joined = raw.join(F.broadcast(mapping), condition, "left")
    return joined.drop(*_RAW, *(f"_m{name}" for name in _RAW))


def names_by_region(names: DataFrame) -> DataFrame:
    """region_key -> res_country, res_state, res_county: one row per key (of several spellings, the smallest)."""
    best = F.min(F.struct(*[F.col(c) for c in RESOLVED]))
    return names.groupBy("region_key").agg(best.alias("_n")).select("region_key", *[F.col(f"_n.{c}") for c in RESOLVED])


def with_names(df: DataFrame, names: DataFrame) -> DataFrame:
    """``df`` (with region_key) with its region's resolved names (a small frame: candidates of dim_region)."""
    if all(c in df.columns for c in RESOLVED):
        return df
    return df.join(F.broadcast(names_by_region(names)), on="region_key", how="left")
