"""Issue 13 item 1: requests, character for character.

For each built-in task lm-evaluation-harness also defines, lm-eval builds its
requests (Task.build_all_requests) from the same local documents qgrid reads,
`qgrid eval --dump-requests` writes qgrid's, and every (context,
continuation) pair must be equal, 0-shot and few-shot with the same seed.

The documents and their schema converters: lm_eval_tasks.py.
"""

import pytest

from conftest import run_qgrid, read_jsonl
from lm_eval_tasks import CASES, LIMIT, SEED, Case, build_task, data_dir, instances


@pytest.fixture(scope="module")
def task_manager():
    from lm_eval.tasks import TaskManager
    return TaskManager()


def lm_eval_requests(tm, case: Case, shots: int, tmp):
    """lm-eval's (request_type, arguments) in (doc_id, idx) order."""
    task = build_task(tm, case, shots, tmp)
    return [(i.request_type, list(i.arguments)) for i in instances(task)]


def qgrid_requests(exe, case: Case, shots: int, tmp):
    out = tmp / f"{case.qgrid_task}.qgrid.jsonl"
    run_qgrid(exe, "eval", "--task", case.qgrid_task, "--data-dir", data_dir(case),
              "--shots", shots, "--seed", SEED, "--limit", LIMIT, "--dump-requests", out)
    return [(r["request_type"], r["arguments"]) for r in read_jsonl(out)]


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i, x, y
    return None


@pytest.mark.parametrize("case,shots", [(c, k) for c in CASES for k in c.shots],
                         ids=lambda v: v.qgrid_task if isinstance(v, Case) else f"{v}shot")
def test_requests_equal_lm_evals(qgrid_torch, task_manager, case, shots, tmp_path):
    ours = qgrid_requests(qgrid_torch, case, shots, tmp_path)
    theirs = lm_eval_requests(task_manager, case, shots, tmp_path)
    assert len(ours) == len(theirs), (
        f"{case.qgrid_task} {shots}-shot: qgrid made {len(ours)} requests, lm-eval {len(theirs)}")
    diff = first_difference(ours, theirs)
    assert diff is None, (
        f"{case.qgrid_task} {shots}-shot: request {diff[0]} differs\n"
        f"  qgrid:   {diff[1]!r}\n  lm-eval: {diff[2]!r}\n"
        f"({sum(x != y for x, y in zip(ours, theirs))} of {len(ours)} differ)")
