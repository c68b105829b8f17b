"""Run fuzz targets under atheris (coverage-guided, keyless instrumented):

    python fuzz/fuzz_sigv4.py -atheris_runs=100000          one harness, libFuzzer flags after it
    python fuzz/fuzz_all.py -atheris_runs=2000 -seed=1       every target (CI runs this, bounded)

With several targets the first input byte picks one. A crash prints the input and leaves it in
./crash-<sha1>; replay it with `python fuzz/fuzz_X.py crash-<sha1>`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))


def dispatcher(targets: list[Callable[[bytes], object]]) -> Callable[[bytes], None]:
    if len(targets) == 1:
        only = targets[0]
        return lambda data: None if only(data) else None

    def one_input(data: bytes) -> None:
        if data:
            targets[data[0] % len(targets)](data[1:])

    return one_input


def _seed_corpus(targets: Any, names: tuple[str, ...]) -> str:
    folder = Path(tempfile.mkdtemp(prefix="keyless-fuzz-"))
    for position, name in enumerate(names):
        for number, seed in enumerate(targets.SEEDS[name]()):
            data = seed if len(names) == 1 else bytes([position]) + seed
            (folder / f"{name}-{number}").write_bytes(data)
    return str(folder)


def main(*names: str) -> None:
    import atheris

    with atheris.instrument_imports(include=["keyless", "targets", "imds_fixture"]):
        import targets

    names = names or tuple(targets.TARGETS)
    argv = list(sys.argv)
    if not any(not arg.startswith("-") for arg in argv[1:]):  # no corpus named: start from the seeds
        argv.append(_seed_corpus(targets, names))
    atheris.Setup(argv, dispatcher([targets.TARGETS[name] for name in names]))
    atheris.Fuzz()
