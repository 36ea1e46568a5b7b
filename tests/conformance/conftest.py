"""Shared fixtures of the conformance suite (tests/conformance/).

The suite compares qgrid with the reference tools themselves (lm-eval,
transformers, tokenizers, sentencepiece, compressed-tensors, llm-compressor),
installed by `deploy/python-env.sh --conformance` and run by
`deploy/test-conformance.sh`. Tests that need ../shared (real public models
and data) skip with a message when it is absent.

Environment:
  QGRID_BUILD_DIR   the CPU build to test (default: build/)
  QGRID_SHARED_DIR  the shared models and data (default: ../shared)
"""

import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def _build_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("QGRID_BUILD_DIR", REPO / "build"))


def _shared_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("QGRID_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    return REPO


@pytest.fixture(scope="session")
def qgrid_torch() -> pathlib.Path:
    """The libtorch executable (quantize, eval, model, ppl, ...)."""
    exe = _build_dir() / "cli" / "qgrid-torch"
    if not exe.exists():
        pytest.fail(f"{exe} not found: build qgrid first (bash deploy/build.sh)")
    return exe


@pytest.fixture(scope="session")
def shared() -> pathlib.Path:
    return _shared_dir()


def need_shared(rel: str) -> pathlib.Path:
    """The path under ../shared, or a skip naming what is missing."""
    p = _shared_dir() / rel
    if not p.exists():
        pytest.skip(f"{p} not present (../shared is absent in a user's clone)")
    return p


def run_qgrid(exe, *args, cwd=None, env=None) -> str:
    """Runs qgrid-torch; a failure shows the command and its stderr."""
    cmd = [str(exe)] + [str(a) for a in args]
    full_env = dict(os.environ)
    full_env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if env:
        full_env.update(env)
    p = subprocess.run(cmd, cwd=cwd or REPO, env=full_env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {p.returncode}\n{p.stderr[-4000:]}")
    return p.stdout


def read_jsonl(path) -> list:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
