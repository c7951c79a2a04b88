"""adapters/aws: the ports implemented with boto3 (S3, Glue Data Catalog + crawler, SNS).

botocore errors are translated into the port's error classes here, at the edge,
so domain code never sees a ``ClientError``.
"""
