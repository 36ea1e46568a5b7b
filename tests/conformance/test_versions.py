"""The references are the pinned releases (deploy/python/constraints.txt):
a figure of this suite is only comparable with the version it names."""

import importlib.metadata
import re

from conftest import REPO


def _pins():
    pins = {}
    for line in (REPO / "deploy/python/constraints.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_installed_references_are_the_pinned_versions():
    pins = _pins()
    assert "lm-eval" in pins and "transformers" in pins
    wrong = {}
    for name, want in pins.items():
        got = importlib.metadata.version(name)
        # Local version labels (torch's "+cpu"/"+cu130") are not part of the pin.
        if got.split("+")[0] != want:
            wrong[name] = (want, got)
    assert not wrong, f"installed versions differ from the pins: {wrong}"
