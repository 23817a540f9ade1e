"""README's configuration table names every setting of shared/settings.py: an operator reads it there."""

from __future__ import annotations

import re
from pathlib import Path

from shared.settings import Settings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_setting_is_in_the_readmes_configuration_table() -> None:
    table = "\n".join(line for line in README.read_text().splitlines() if line.startswith("| `"))
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    missing = sorted(name.upper() for name in Settings.model_fields if name.upper() not in documented)
    assert missing == []
