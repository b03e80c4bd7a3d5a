"""The end-to-end runner (bench/run.py, the README's first command) keeps working.

One tiny run: every scenario, every implementation, no worker error, a JSON
report with a figure for each row, the plan before any progress, one line per
target in plain words, and a chart.  Figures themselves are not asserted:
they are benchmarks, not tests.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = {"get", "set", "bulk", "threads", "pair", "async", "async-uvloop", "async-1",
             "async-10", "async-500", "async-mixed-100", "async-mixed-10k"}
PYTHON_IMPLS = {"pyredis-c", "pyredis-py", "redis-py"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

sys.path.insert(0, HERE)
import run  # noqa: E402


def test_quick_run_reports_every_row(tmp_path):
    report = tmp_path / "bench.json"
    chart = tmp_path / "bench.png"
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "run.py"), "--quick", "-n", "400", "--rounds", "2",
         "--json", str(report), "--plot", str(chart)],
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
            assert len(figures["rounds"]) == 2
            assert figures["wall_spread"] is not None and figures["wall_spread"] >= 0
    assert data["targets"], "no target was evaluated"
    assert all(t["passed"] is not None for t in data["targets"]), data["targets"]

    # The plan comes first, naming the server, every implementation and scenario.
    err = proc.stderr
    plan_end = err.index("scenarios:")
    first_progress = err.index("round 1/2")
    assert plan_end < first_progress
    plan = err[:first_progress]
    assert "server:   redis-server" in plan
    for name in ("pyredis compiled", "pyredis pure", "redis-py", "redis-benchmark (C)"):
        assert name in plan, name
    for sid in SCENARIOS:
        assert "  %s " % sid in plan, sid
    # Progress: one line per scenario and round.
    assert err.count("round 1/2  ") == len(SCENARIOS)
    assert err.count("round 2/2  ") == len(SCENARIOS)

    table = proc.stdout
    assert "pyredis compiled" in table and "redis-benchmark (C)" in table
    assert "spread" in table
    target_lines = [line for line in table.splitlines()
                    if line.startswith(("  pass  ", "  MISS  "))]
    assert len(target_lines) == len(data["targets"])
    for line in target_lines:
        assert "target: at " in line, line  # each says what it compares and against what
    assert "seed" not in table
    assert "targets: %d of %d met" % (sum(t["passed"] for t in data["targets"]),
                                       len(data["targets"])) in table

    assert chart.read_bytes()[:8] == PNG_SIGNATURE


def test_unknown_scenario_is_rejected():
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "run.py"), "--scenarios", "nope"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown scenario" in proc.stderr


def test_spread_is_the_slowest_rounds_extra_cost():
    assert run.spread([1.0]) is None
    assert run.spread([2.0, 2.5, 3.0]) == 0.5
    assert run.spread([0.0, 1.0]) is None  # a round too short for the clock


def _meta(load1, cpus=2):
    return {"load_before": [load1, 0.0, 0.0], "cpus": cpus}


def test_busy_machine_is_warned_about():
    assert run.busy_warning(_meta(0.3)) is None
    assert run.busy_warning(_meta(1.0)) is None  # half of 2 CPUs: not yet
    warning = run.busy_warning(_meta(1.5))
    assert warning.startswith("WARNING: this machine is busy") and "1.50" in warning
