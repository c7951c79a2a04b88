"""Deployment helpers (`make deploy`)."""
