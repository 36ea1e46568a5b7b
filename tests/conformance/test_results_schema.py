"""Issue 13 item 6 (results): qgrid's results JSON has the layout of the
results file lm-eval writes.

lm-eval 0.4.13 itself evaluates a task (simple_evaluate on its hf backend,
stories260K, a few documents) and its results dictionary is the reference:
every key it writes that describes the evaluation (results, groups,
group_subtasks, configs, versions, n-shot, higher_is_better, n-samples,
config, date) must be in `qgrid eval --json`'s document with the same kind
of value, and the per-task entries must have lm-eval's keys and types.
Keys about lm-eval's own process (git_hash, pretty_env_info,
transformers_version, task_hashes, chat_template, ...) are not asked for.
"""

import json

import pytest

from conftest import need_shared, run_qgrid
from lm_eval_tasks import CASES, build_task, data_dir

# The keys of lm-eval's results that describe the evaluation. "groups" is
# written only for grouped tasks by both.
DESCRIBING = ["results", "group_subtasks", "configs", "versions", "n-shot",
              "higher_is_better", "n-samples", "config", "date"]
RUN_CONFIG = ["model", "model_args", "batch_size", "device", "limit", "fewshot_seed"]


def _kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if v is None:
        return "null"
    return type(v).__name__


def lm_eval_results(case, tmp):
    from lm_eval import evaluator
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    tm = TaskManager()
    task = build_task(tm, case, 0, tmp, limit=3)
    lm = HFLM(pretrained=str(need_shared("models/stories260K")), device="cpu",
              dtype="float32", batch_size=1)
    return evaluator.simple_evaluate(model=lm, tasks=[task], limit=3, num_fewshot=0,
                                     task_manager=tm)


@pytest.fixture(scope="module")
def documents(qgrid_torch, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schema")
    case = next(c for c in CASES if c.qgrid_task == "arc_easy")
    theirs = lm_eval_results(case, tmp)
    ours = json.loads(run_qgrid(qgrid_torch, "eval", "--model",
                                need_shared("models/stories260K"), "--task", "arc_easy",
                                "--data-dir", data_dir(case), "--limit", 3, "--json"))
    return case, ours, theirs


def test_top_level_keys_and_kinds_are_lm_evals(documents):
    _, ours, theirs = documents
    for k in DESCRIBING:
        assert k in theirs, f"lm-eval 0.4.13 no longer writes {k!r}: update DESCRIBING"
        assert k in ours, f"qgrid's results lack lm-eval's {k!r}"
        assert _kind(ours[k]) == _kind(theirs[k]), (
            f"{k!r}: qgrid has a {_kind(ours[k])}, lm-eval a {_kind(theirs[k])}")
    for k in RUN_CONFIG:
        assert k in theirs["config"] and k in ours["config"], f"config.{k}"


def test_per_task_entries_have_lm_evals_keys(documents):
    case, ours, theirs = documents
    t = case.lm_eval_task
    for section in ("results", "n-shot", "n-samples", "higher_is_better", "versions",
                    "configs"):
        assert t in theirs[section] and t in ours[section], section
        a, b = ours[section][t], theirs[section][t]
        assert _kind(a) == _kind(b), f"{section}[{t}]: {_kind(a)} vs {_kind(b)}"
    # Metric keys "acc,none", "acc_stderr,none", ... and the alias.
    for key in theirs["results"][t]:
        assert key in ours["results"][t], f"results[{t}] lacks {key!r}"
    assert ours["higher_is_better"][t] == theirs["higher_is_better"][t]
    assert set(ours["n-samples"][t]) == set(theirs["n-samples"][t])
    assert ours["n-samples"][t] == theirs["n-samples"][t]
    assert ours["n-shot"][t] == theirs["n-shot"][t]
    # A plain task is no group: neither lists subtasks for it.
    assert t not in ours["group_subtasks"] and t not in theirs["group_subtasks"]
    for key in ("task", "target_delimiter", "fewshot_delimiter", "output_type"):
        assert key in ours["configs"][t] and key in theirs["configs"][t], f"configs.{key}"
    assert ours["configs"][t]["output_type"] == theirs["configs"][t]["output_type"]
    # Same documents, same model: the same accuracy.
    assert ours["results"][t]["acc,none"] == pytest.approx(theirs["results"][t]["acc,none"])
