"""The end-to-end runner (bench/run.py, the README's first command) keeps working.

One tiny run: every scenario, every implementation, no worker error, a JSON
report with a figure for each row and a verdict line.  Figures themselves are
not asserted: they are benchmarks, not tests.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = {"get", "set", "bulk", "threads", "pair", "async", "async-uvloop", "async-1",
             "async-10", "async-500", "async-mixed-100", "async-mixed-10k"}
PYTHON_IMPLS = {"pyredis-c", "pyredis-py", "redis-py"}


def test_quick_run_reports_every_row(tmp_path):
    report = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "run.py"), "--quick", "-n", "400",
         "--json", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(report.read_text())
    assert set(data["results"]) == SCENARIOS
    for scenario, per_impl in data["results"].items():
        expected = PYTHON_IMPLS | ({"redis-benchmark"} if scenario != "pair" else set())
        assert set(per_impl) == expected, scenario
        for impl, figures in per_impl.items():
            assert "error" not in figures, (scenario, impl, figures)
            assert figures["ops_s"] > 0 and figures["user_us"] >= 0, (scenario, impl)
    assert data["targets"], "no target was evaluated"
    assert all(t["passed"] is not None for t in data["targets"]), data["targets"]
    table = proc.stdout
    assert "pyredis compiled" in table and "redis-benchmark (C)" in table
    assert "targets: " in table


def test_unknown_scenario_is_rejected():
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "run.py"), "--scenarios", "nope"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown scenario" in proc.stderr
