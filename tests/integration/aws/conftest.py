"""Every request the AWS adapters make in these tests is checked against its service model's
constraints, maximums included (tests/strict_model.py): moto and Stubber accept what a real
service would refuse."""

from __future__ import annotations

import pytest

from tests import strict_model


@pytest.fixture(autouse=True)
def strict_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    strict_model.install(monkeypatch, seen)
    return seen
