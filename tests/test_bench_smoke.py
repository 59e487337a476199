"""The benchmark runs end to end in smoke mode, and its small pure parts are right."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.bench import percentile, top_imports, within

REPO = Path(__file__).resolve().parent.parent
KEYS = (
    "ingest_vs_encode",
    "reindex_noop_s",
    "query_p95_ms",
    "pipeline_overhead_ms",
    "extractive_answer_p50_ms",
    "cold_start_s",
    "peak_rss_mb",
    "query_p95_ms_chroma_server",
)


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_percentile_lies_between_min_and_max(values: list[float]) -> None:
    for q in (0, 50, 95, 100):
        assert min(values) <= percentile(values, q) <= max(values)
    assert percentile(values, 0) == min(values)
    assert percentile(values, 100) == max(values)


def test_budgets_compare_in_both_directions() -> None:
    assert within(0.9, ">= 0.85") and not within(0.8, ">= 0.85")
    assert within(50, "<= 50") and not within(50.1, "<= 50")


def test_top_imports_reads_cumulative_top_level_times() -> None:
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        200 |   torch._C\n"
        "import time:      5000 |    6000000 | torch\n"
        "import time:        50 |      70000 | json\n"
    )
    assert top_imports(stderr) == [("torch", 6.0), ("json", 0.07)]


def _numeric(value: object) -> bool:
    if isinstance(value, dict):
        return bool(value) and all(_numeric(v) for v in value.values())
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow
@pytest.mark.integration
def test_smoke_bench_writes_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench", "--smoke", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # under a minute on an idle 2-core machine; shared machines are slower
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["mode"] == "smoke"
    assert results["machine"]["cores"] >= 1 and results["machine"]["cpu_model"]
    assert results["packages"]["chromadb"]
    for key in KEYS:
        entry = results[key]
        assert set(entry) >= {"value", "budget", "pass", "notes"}, key
        assert _numeric(entry["value"]), (key, entry["value"])
        assert isinstance(entry["pass"], bool) and entry["notes"]
    assert set(results["query_p95_ms"]["value"]) == {"seeds"}
    assert "index" in results["peak_rss_mb"]["value"]
    assert out.with_suffix(".png").stat().st_size > 1000
