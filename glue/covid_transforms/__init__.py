"""Pure PySpark transforms of the Clean job: DataFrame in, DataFrame out. Never imports awsglue."""
