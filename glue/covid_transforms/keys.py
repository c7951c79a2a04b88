"""Spark column expressions for the deterministic keys of covid_pipeline.keys, FIPS codes and ZIPs.

Every expression here must give exactly what the Python function of the same name
in ``covid_pipeline.keys`` gives (the unit tests compare them value by value), so
keys computed by Spark, DuckDB and Redshift join.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from covid_pipeline import keys

# Python's ``\s`` (str patterns) = every character whose str.isspace() is true. Java's ``\s`` is
# ASCII-only, so the exact set is spelled out; a unit test checks it against Python's re.
PY_WHITESPACE_CLASS = r"[\t\n\x0B\f\r\x1C-\x1F \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
# The same set as plain characters (a unit test checks it too), for btrim: trimming with it is
# several times faster than a regex replace, and strip runs on every staged row.
PY_WHITESPACE_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_WHITESPACE_RUN = PY_WHITESPACE_CLASS + "+"
# Java regex: \z is the very end of the input (a bare $ would also match before a final newline).
_ALL_WHITESPACE = f"^{PY_WHITESPACE_CLASS}*\\z"
_DIGITS = r"^[0-9]{{1,{n}}}\z"

FIPS_MAX_DIGITS = 5
COUNTY_FIPS_DIGITS = 5
STATE_FIPS_DIGITS = 2
ZIP_DIGITS = 5

LEVEL_COUNTRY = "country"
LEVEL_STATE = "state"
LEVEL_COUNTY = "county"


def normalise_part(col: Column) -> Column:
    """keys.normalise_part: collapse whitespace runs to one space, strip, lower-case; null -> ''."""
    collapsed = F.regexp_replace(F.coalesce(col, F.lit("")), _WHITESPACE_RUN, " ")
    # After the collapse, leading/trailing whitespace is a single ' ', which trim() removes.
    return F.lower(F.trim(collapsed))


def normalise_country(col: Column) -> Column:
    """keys.normalise_country: normalise_part, then the early-JHU country aliases."""
    part = normalise_part(col)
    # One map literal (a CASE chain would repeat `part` per alias); try_element_at gives
    # null for a name that is no alias, whatever the ANSI setting.
    return F.coalesce(F.try_element_at(F.expr(_COUNTRY_ALIAS_MAP), part), part)


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_COUNTRY_ALIAS_MAP = "map({})".format(
    ", ".join(f"{_sql_string(alias)}, {_sql_string(name)}" for alias, name in sorted(keys.COUNTRY_ALIASES.items()))
)


def hash_key(*parts: Column) -> Column:
    """keys.hash_key: first 15 hex digits of SHA-256 of the parts joined by '|', as a positive bigint.

    Parts must never be null (concat_ws would skip them and shift the key): callers
    pass normalised parts, which are '' for null.
    """
    digest = F.sha2(F.concat_ws(keys.SEPARATOR, *parts), 256)
    return F.conv(F.substring(digest, 1, keys.KEY_HEX_DIGITS), 16, 10).cast("bigint")


def region_key(country: Column, state: Column, county: Column) -> Column:
    """keys.region_key(country, state, county)."""
    return hash_key(normalise_country(country), normalise_part(state), normalise_part(county))


def region_level(state: Column, county: Column) -> Column:
    """keys.region_level(state, county): 'county', 'state' or 'country'."""
    return (
        F.when(normalise_part(county) != "", F.lit(LEVEL_COUNTY))
        .when(normalise_part(state) != "", F.lit(LEVEL_STATE))
        .otherwise(F.lit(LEVEL_COUNTRY))
    )


def hospital_key(state_abbr: Column, zip_code: Column, name: Column, address: Column) -> Column:
    """keys.hospital_key(state_abbr, zip, name, address)."""
    return hash_key(normalise_part(state_abbr), normalise_part(zip_code), normalise_part(name), normalise_part(address))


def date_key(date: Column) -> Column:
    """keys.date_key of a date column: yyyymmdd as int (null for a null date)."""
    return (F.year(date) * 10000 + F.month(date) * 100 + F.dayofmonth(date)).cast("int")


def strip(col: Column) -> Column:
    """str.strip(): remove leading and trailing whitespace (Python's definition)."""
    return F.btrim(col, F.lit(PY_WHITESPACE_CHARS))


def is_blank(col: Column) -> Column:
    """Null, or text that is empty after stripping whitespace (it is whitespace only).

    A match test, not strip(col) == '': nothing is copied for the usual non-blank value.
    """
    return col.isNull() | col.rlike(_ALL_WHITESPACE)


def blank_to_null(col: Column) -> Column:
    """The stripped text, or null when it is empty."""
    stripped = strip(col)
    return F.when(stripped != "", stripped)


def fips_text(col: Column) -> Column:
    """A FIPS code as staged text: stripped, a trailing '.0' removed (JHU writes 1001.0); '' -> null.

    The result is not validated nor padded: see fips_is_invalid and fips_for_level.
    """
    stripped = strip(col)
    # endswith/substr, not a regex replace of '\.0\z': the same text at a fraction of the cost.
    text = F.when(stripped.endswith(".0"), stripped.substr(F.lit(1), F.length(stripped) - 2)).otherwise(stripped)
    return F.when(text != "", text)


def fips_is_invalid(col: Column) -> Column:
    """True when a non-empty FIPS is not 1..5 ASCII digits (after fips_text); false for null/empty."""
    text = fips_text(col)
    return F.coalesce(~text.rlike(_DIGITS.format(n=FIPS_MAX_DIGITS)), F.lit(False))


def fips_for_level(col: Column, level: Column | str) -> Column:
    """The FIPS of a region at its level: counties 5 digits, states 2, countries none.

    ``level`` is a column of region levels, or one level for every row. A state-level
    code with more than two significant digits is not a state FIPS but one of JHU's
    pseudo codes (88888 Diamond Princess, 99999 Grand Princess): it is kept as 5
    digits rather than truncated. JHU's lookup pads state codes to 5 ('00001'), so
    significant digits are what count. Invalid values give null.
    """
    text = fips_text(col)
    valid = text.rlike(_DIGITS.format(n=FIPS_MAX_DIGITS))
    significant = F.regexp_replace(text, "^0+", "")
    county = F.lpad(text, COUNTY_FIPS_DIGITS, "0")
    state = F.when(F.length(significant) <= STATE_FIPS_DIGITS, F.lpad(significant, STATE_FIPS_DIGITS, "0")).otherwise(
        county
    )
    if isinstance(level, str):
        # A fixed level is decided here, not compared row by row.
        by_level = {LEVEL_COUNTY: county, LEVEL_STATE: state}
        return F.when(valid, by_level[level]) if level in by_level else F.lit(None).cast("string")
    return F.when(valid & (level == LEVEL_COUNTY), county).when(valid & (level == LEVEL_STATE), state)


def zip5(col: Column) -> Column:
    """A ZIP code as text: stripped, a trailing '.0' removed, short all-digit codes zero-padded to 5.

    The hospital export lost leading zeros (969 for 00969); anything else (ZIP+4, letters)
    is kept as written rather than guessed at.
    """
    text = fips_text(col)  # the same clean-up as a FIPS code
    short_digits = text.rlike(_DIGITS.format(n=ZIP_DIGITS))
    return F.when(short_digits, F.lpad(text, ZIP_DIGITS, "0")).otherwise(text)


def with_region(df: DataFrame, country: Column, state: Column, county: Column) -> DataFrame:
    """Add ``region_key``, ``region_level`` and ``fips_norm`` (the row's ``fips`` padded for its level)."""
    return (
        df.withColumn("region_key", region_key(country, state, county))
        .withColumn("region_level", region_level(state, county))
        .withColumn("fips_norm", fips_for_level(F.col("fips"), F.col("region_level")))
    )
