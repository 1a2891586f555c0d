"""Facts the docs state about shipped files stay true."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_compute_optimal_doc_gives_the_shipped_probe_size():
    policy = json.loads((ROOT / "reasoning_graph/policies/default.json").read_text())
    doc = " ".join((ROOT / "docs/compute-optimal.md").read_text().split())
    stated = re.search(r"`probe_n` solutions \(the policy's; (\d+) in the shipped one\)", doc)
    assert stated is not None, "the doc no longer states the shipped probe size"
    assert int(stated.group(1)) == policy["probe_n"]
