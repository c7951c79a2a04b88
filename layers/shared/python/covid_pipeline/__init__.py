"""covid-pipeline shared library: ports, adapters, domain logic (shipped as a Lambda layer)."""

__version__ = "0.1.0"
