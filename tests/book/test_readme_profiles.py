"""The README's profile table states the sizes that hybridlib.config defines."""
from __future__ import annotations

import re
from pathlib import Path

import hybridlib as hl

ROOT = Path(__file__).resolve().parents[2]


def test_readme_profile_sizes_match_the_config():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| ([\d,]+) materials", readme, flags=re.M))
    assert {"ci", "book"} <= set(rows), f"profile rows with sizes not found: {rows}"
    for name, size in rows.items():
        expected = hl.config.PROFILES[name].data.n_materials
        assert int(size.replace(",", "")) == expected, (
            f"README says profile {name!r} has {size} materials; hybridlib.config says {expected}")
