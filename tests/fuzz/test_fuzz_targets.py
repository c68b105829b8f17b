"""The fuzz targets of fuzz/targets.py, run with a fixed budget in every test run: hypothesis feeds
each target arbitrary bytes and mutated valid seeds, and atheris (when installed) runs the combined
harness for a bounded number of coverage-guided inputs. A target fails only on an answer AWS would
not give: an exception other than a 4xx AwsError (or the parser's documented error), or a 5xx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ_DIR = Path(__file__).resolve().parents[2] / "fuzz"
sys.path.insert(0, str(FUZZ_DIR))

from targets import SEEDS, TARGETS  # noqa: E402

ATHERIS_RUNS = 3000  # inputs for the bounded coverage-guided run (a few seconds)


def test_every_target_has_seeds_that_pass() -> None:
    assert set(SEEDS) == set(TARGETS)
    for name, target in TARGETS.items():
        for seed in SEEDS[name]():
            target(seed)


@st.composite
def mutated_seed(draw: st.DrawFn, name: str) -> bytes:
    """A valid seed with a few bytes flipped, inserted or cut: hostile, but close to valid."""
    data = bytearray(draw(st.sampled_from(SEEDS[name]())))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, max(0, len(data) - 1)))
        action = draw(st.sampled_from(["flip", "insert", "cut"]))
        if action == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[position:position + draw(st.integers(1, 16))]
    return bytes(data)


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_target_survives_hostile_bytes(name: str, data: st.DataObject) -> None:
    payload = data.draw(st.one_of(st.binary(max_size=600), mutated_seed(name)), label="input")
    TARGETS[name](payload)


def test_bounded_atheris_run_of_every_target(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(FUZZ_DIR), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, str(FUZZ_DIR / "fuzz_all.py"), f"-atheris_runs={ATHERIS_RUNS}", "-seed=1", "-max_len=2048"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"Done {ATHERIS_RUNS} runs" in proc.stderr or f"Done {ATHERIS_RUNS} in" in proc.stderr, proc.stderr[-2000:]
    assert not list(tmp_path.glob("crash-*"))
