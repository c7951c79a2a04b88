"""Integration tests of the AWS adapters against moto (and botocore's Stubber where moto cannot model AWS)."""
