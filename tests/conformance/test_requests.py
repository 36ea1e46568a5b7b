"""Issue 13 item 1: requests, character for character.

For each built-in task lm-evaluation-harness also defines, lm-eval builds its
requests (Task.build_all_requests) from the same local documents qgrid reads,
`qgrid eval --dump-requests` writes qgrid's, and every (context,
continuation) pair must be equal, 0-shot and few-shot with the same seed.

The documents and their schema converters: lm_eval_tasks.py.
"""

import json

import pytest

from conftest import run_qgrid, read_jsonl
from lm_eval_tasks import (CASES, LIMIT, SEED, Case, build_task, data_dir, instances,
                            qgrid_data_dir)


@pytest.fixture(scope="module")
def task_manager():
    from lm_eval.tasks import TaskManager
    return TaskManager()


def _comparable(request_type, arguments):
    """A request as compared: generate_until's second argument holds
    lm-eval's generation kwargs (do_sample, temperature: qgrid decodes
    greedily always), so the stop strings are what is compared of it."""
    arguments = list(arguments)
    if request_type == "generate_until":
        arguments[1] = {"until": list(arguments[1]["until"])}
    return request_type, arguments


def lm_eval_requests(tm, case: Case, shots: int, tmp):
    """lm-eval's (request_type, arguments) in (doc_id, idx) order."""
    task = build_task(tm, case, shots, tmp)
    return [_comparable(i.request_type, i.arguments) for i in instances(task)]


def qgrid_requests(exe, case: Case, shots: int, tmp):
    out = tmp / f"{case.qgrid_task}.qgrid.jsonl"
    run_qgrid(exe, "eval", "--task", case.qgrid_task, "--data-dir", qgrid_data_dir(case, tmp),
              "--shots", shots, "--seed", SEED, "--limit", LIMIT, "--dump-requests", out)
    return [_comparable(r["request_type"], r["arguments"]) for r in read_jsonl(out)]


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


def _letter_task_contexts(qgrid_torch, task_manager, lm_task, overrides, qgrid_task,
                          data_dir, tmp_path):
    """A 5-shot letter-answer task both ways over the same files: lm-eval's
    contexts (its " A".." D" continuations checked) and qgrid's
    --dump-requests contexts (next-token requests over the letters)."""
    task = task_manager._factory.build(
        task_manager._entry(lm_task),
        overrides={"task": lm_task, "dataset_path": "json", "dataset_name": None,
                   "num_fewshot": 5, **overrides},
        registry=task_manager._index)
    task.build_all_requests(limit=LIMIT, rank=0, world_size=1)
    theirs = [i.arguments[0] for i in instances(task) if i.idx == 0]
    assert [i.arguments[1] for i in instances(task)][:4] == [" A", " B", " C", " D"]
    out = tmp_path / f"{lm_task}.qgrid.jsonl"
    run_qgrid(qgrid_torch, "eval", "--task", qgrid_task, "--data-dir", data_dir,
              "--limit", LIMIT, "--dump-requests", out)
    ours = read_jsonl(out)
    assert all(r["request_type"] == "next_token" and r["arguments"][1] == list("ABCD")
               for r in ours)
    assert len(ours) == len(theirs)
    return [r["arguments"][0] for r in ours], theirs


def _ceval_jsonl(src, dst):
    """A C-Eval CSV as JSON lines (dev files have an extra "explanation"
    column that datasets' csv builder refuses to mix with val's)."""
    import csv
    import json
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as o:
        for r in csv.DictReader(f):
            r.setdefault("explanation", "")
            o.write(json.dumps(r, ensure_ascii=False) + "\n")
    return str(dst)


@pytest.mark.parametrize("subject,name", [("law", "法学"), ("computer_network", "计算机网络")])
def test_ceval_differs_from_lm_evals_ceval_valid_only_as_documented(
        qgrid_torch, task_manager, subject, name, tmp_path):
    """qgrid's ceval follows C-Eval's official evaluator on purpose (its
    YAML documentation): the header says "...关于X考试的..." where lm-eval's
    ceval-valid says "...关于X的...", and a shot's answer follows "答案："
    directly where lm-eval puts its target delimiter " " between. With
    those two rules applied to lm-eval's contexts, they must be equal."""
    from conftest import need_shared
    root = need_shared("data/ceval")
    files = {"test": _ceval_jsonl(root / f"val/{subject}_val.csv", tmp_path / "val.jsonl"),
             "dev": _ceval_jsonl(root / f"dev/{subject}_dev.csv", tmp_path / "dev.jsonl")}
    lm_task = f"ceval-valid_{subject}"
    ours, theirs = _letter_task_contexts(
        qgrid_torch, task_manager, lm_task,
        {"dataset_kwargs": {"data_files": files}, "training_split": None,
         "validation_split": None, "test_split": "test", "fewshot_split": "dev"},
        f"ceval:{subject}", root.parent, tmp_path)
    documented = [t.replace(f"以下是中国关于{name}的单项选择题", f"以下是中国关于{name}考试的单项选择题", 1)
                   .replace("\n答案： ", "\n答案：") for t in theirs]
    diff = first_difference(ours, documented)
    assert diff is None, f"ceval:{subject} context {diff[0]}:\n  qgrid:   {diff[1]!r}\n  lm-eval: {diff[2]!r}"


def _strip_index_column(src, dst):
    """A CMMLU CSV (header ",Question,A,B,C,D,Answer": a leading unnamed
    index column) as JSON lines of the named columns."""
    import csv
    import json
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as o:
        for r in csv.DictReader(f):
            o.write(json.dumps({k: r[k] for k in ("Question", "A", "B", "C", "D", "Answer")},
                               ensure_ascii=False) + "\n")
    return str(dst)


def _cmmlu_as_official(context, header):
    """lm-eval's cmmlu context rewritten by the documented differences
    (eval/tasks/cmmlu.yaml): each question block starts with 题目:, the
    answer cue is 答案是: and a shot's letter follows it directly."""
    assert context.startswith(header), context[:80]
    blocks = context[len(header):].split("\n\n")
    return header + "\n\n".join(
        "题目：" + b.replace("\n答案： ", "\n答案是：").replace("\n答案：", "\n答案是：")
        for b in blocks)


@pytest.mark.parametrize("subject,name", [("agronomy", "农学"), ("anatomy", "解剖学")])
def test_cmmlu_differs_from_lm_evals_cmmlu_only_as_documented(
        qgrid_torch, task_manager, subject, name, tmp_path):
    """qgrid's cmmlu follows CMMLU's official src/mp_utils.py on purpose
    (its YAML documentation), where lm-eval's cmmlu_* writes no 题目:
    before a question, cues the answer with 答案: rather than 答案是:, and
    puts its target delimiter " " before a shot's letter. With those rules
    applied to lm-eval's 5-shot contexts, they must be equal."""
    from conftest import need_shared
    root = need_shared("data/cmmlu")
    files = {"test": _strip_index_column(root / f"test/{subject}.csv", tmp_path / "test.jsonl"),
             "dev": _strip_index_column(root / f"dev/{subject}.csv", tmp_path / "dev.jsonl")}
    lm_task = f"cmmlu_{subject}"
    ours, theirs = _letter_task_contexts(
        qgrid_torch, task_manager, lm_task, {"dataset_kwargs": {"data_files": files}},
        f"cmmlu:{subject}", root.parent, tmp_path)
    header = f"以下是关于{name}的单项选择题，请直接给出正确答案的选项。\n\n"
    documented = [_cmmlu_as_official(t, header) for t in theirs]
    diff = first_difference(ours, documented)
    assert diff is None, f"cmmlu:{subject} context {diff[0]}:\n  qgrid:   {diff[1]!r}\n  lm-eval: {diff[2]!r}"


def test_squad2_generations_equal_lm_evals_squadv2(qgrid_torch, monkeypatch, tmp_path):
    """lm-eval's squadv2 (a Python task over the Hub's flattened SQuAD v2:
    id, title, context, question, answers{text, answer_start}) asks one
    generation per question and the log-likelihood of " unanswerable".
    qgrid's squad2 reads the official JSON and asks the generation only:
    its exact_match and f1 are lm-eval's "exact" and "f1", which use the
    generation alone (the no-answer probability only enters best_exact /
    best_f1, which qgrid does not report; eval/tasks/squad2.yaml)."""
    import datasets
    from conftest import need_shared
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks.squadv2.task import SQuAD2
    src = need_shared("data/squad2/squad_v2_dev_5articles.json")
    with open(src, encoding="utf-8") as f:
        official = json.load(f)
    rows = [{"id": q["id"], "title": art["title"], "context": p["context"],
             "question": q["question"],
             "answers": {"text": [a["text"] for a in q["answers"]],
                         "answer_start": [a["answer_start"] for a in q["answers"]]}}
            for art in official["data"] for p in art["paragraphs"] for q in p["qas"]]

    def local_download(self, *args, **kwargs):
        self.dataset = datasets.DatasetDict({"validation": datasets.Dataset.from_list(rows),
                                             "train": datasets.Dataset.from_list(rows[:1])})
    monkeypatch.setattr(ConfigurableTask, "download", local_download)
    task = SQuAD2()
    task.build_all_requests(limit=LIMIT, rank=0, world_size=1)
    theirs = instances(task)
    gens = [_comparable(i.request_type, i.arguments) for i in theirs
            if i.request_type == "generate_until"]
    others = [i for i in theirs if i.request_type != "generate_until"]
    assert [(i.request_type, i.arguments[1]) for i in others] == (
        [("loglikelihood", " unanswerable")] * len(gens))
    out = tmp_path / "squad2.jsonl"
    run_qgrid(qgrid_torch, "eval", "--task", "squad2", "--data-dir", src.parent.parent,
              "--limit", LIMIT, "--dump-requests", out)
    ours = [_comparable(r["request_type"], r["arguments"]) for r in read_jsonl(out)]
    assert len(ours) == len(gens) == LIMIT
    diff = first_difference(ours, gens)
    assert diff is None, f"squad2 request {diff[0]}:\n  qgrid:   {diff[1]!r}\n  lm-eval: {diff[2]!r}"
