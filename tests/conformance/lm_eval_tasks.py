"""lm-evaluation-harness's own tasks over the local files qgrid reads.

qgrid reads some datasets in another public schema than the Hugging Face one
lm-eval's config expects (the MosaicML gauntlet files under ../shared/data:
{"query", "choices", "gold"}). Each case then has a converter that rewrites
the same documents into the Hugging Face schema field for field (it moves
text between fields and never formats a prompt), so both tools build their
prompts from the same text. A case whose schema is already the HF one
(hellaswag's rowanz/hellaswag fixture) is read by both as is.
"""

import dataclasses
import json
import pathlib
from typing import Callable, Optional

from conftest import REPO, need_shared, read_jsonl

DATA_DIRS = {"data": REPO / "tests" / "eval" / "data",
             "fixtures": REPO / "tests" / "eval" / "fixtures"}
LIMIT = 40  # scored documents per case (the few-shot pool is the whole file)
SEED = 1234  # lm-eval's default fewshot_random_seed and qgrid's default


def _strip_prefix(s: str, prefix: str, where: str) -> str:
    assert s.startswith(prefix), f"{where}: expected {prefix!r} at the start of {s[:60]!r}"
    return s[len(prefix):]


def _labels(n):
    return [chr(ord("A") + i) for i in range(n)]


def arc_to_hf(r):
    labels = _labels(len(r["choices"]))
    return {"id": "x", "question": _strip_prefix(r["query"], "Question: ", "arc query"),
            "choices": {"text": r["choices"], "label": labels},
            "answerKey": labels[r["gold"]]}


def openbookqa_to_hf(r):
    labels = _labels(len(r["choices"]))
    return {"id": "x", "question_stem": r["query"],
            "choices": {"text": r["choices"], "label": labels},
            "answerKey": labels[r["gold"]]}


def piqa_to_hf(r):
    # The gauntlet writes query = "Question: " + goal + "\n".
    goal = _strip_prefix(r["query"], "Question: ", "piqa query")
    assert goal.endswith("\n"), "piqa query: expected a trailing newline"
    return {"goal": goal[:-1], "sol1": r["choices"][0], "sol2": r["choices"][1],
            "label": r["gold"]}


def boolq_to_hf(r):
    # The gauntlet writes query = "Passage: " + passage + "\nQuestion: " +
    # question + "?" (HF boolq questions have no question mark).
    body = _strip_prefix(r["query"], "Passage: ", "boolq query")
    passage, sep, question = body.rpartition("\nQuestion: ")
    assert sep and question.endswith("?"), f"boolq query: unexpected layout {body[-80:]!r}"
    return {"passage": passage, "question": question[:-1], "idx": 0,
            "label": r["gold"]}


def mc_taco_to_hf(fields):
    # The official TSV: sentence, question, answer, label yes/no, category;
    # CogComp/mc_taco on the Hub has label as a class index (0 no, 1 yes).
    sentence, question, answer, label, category = fields
    return {"sentence": sentence, "question": question, "answer": answer,
            "label": {"no": 0, "yes": 1}[label], "category": category}


def winogrande_to_hf(r):
    # lm-eval (winogrande/preprocess_winogrande.py): choices are
    # sentence[:idx] + option_i, the continuation sentence[idx + 1:].strip().
    # Any cut inside the common prefix of the two contexts gives the same
    # choices; cut after its last space so that the options are words.
    a, b = r["context_options"]
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    cut = a.rfind(" ", 0, n) + 1
    return {"sentence": a[:cut] + "_ " + r["continuation"],
            "option1": a[cut:], "option2": b[cut:], "answer": str(r["gold"] + 1)}


@dataclasses.dataclass
class Case:
    qgrid_task: str
    lm_eval_task: str
    data_dir: str            # "shared" (../shared/data), "data" (tests/eval/data)
                             # or "fixtures" (tests/eval/fixtures)
    file: str                # relative to the data dir, as the qgrid YAML names it
    to_hf: Optional[Callable] = None
    shots: tuple = (0, 3)
    # Another split holding the shots (lm-eval's fewshot_split), e.g. MMLU's
    # dev; None: the shots come from the scored file itself.
    fewshot_file: Optional[str] = None
    # The path qgrid's YAML expects when it differs from `file` (the same
    # documents read under another task's name, e.g. qa4mre 2012/2013 over
    # the 2011 fixture: the three years share one schema and one prompt).
    qgrid_file: Optional[str] = None
    # How to read `file` for a converter: "jsonl" or "tsv" (no header; the
    # converter gets the list of fields).
    reader: str = "jsonl"


CASES = [
    Case("arc_easy", "arc_easy", "shared", "arc_easy/arc_easy.jsonl", arc_to_hf),
    Case("arc_challenge", "arc_challenge", "shared", "arc_challenge/arc_challenge.jsonl",
         arc_to_hf),
    Case("openbookqa", "openbookqa", "shared", "openbook_qa/openbook_qa.jsonl",
         openbookqa_to_hf),
    Case("piqa", "piqa", "shared", "piqa/piqa.jsonl", piqa_to_hf),
    Case("boolq", "boolq", "shared", "boolq/boolq.jsonl", boolq_to_hf),
    Case("winogrande", "winogrande", "shared", "winogrande/winogrande.jsonl",
         winogrande_to_hf),
    # Two documents: one shot is all lm-eval can draw besides the scored one.
    Case("hellaswag", "hellaswag", "data", "hellaswag/hellaswag_val.jsonl",
         shots=(0, 1)),
    # Hand-made files in the Hugging Face schema lm-eval's config reads.
    # Few-shot only where the file holds a shot besides the scored document
    # and the task takes its shots from the scored split.
    Case("anli_r1", "anli_r1", "data", "anli/test_r1.jsonl", shots=(0,)),
    Case("anli_r2", "anli_r2", "data", "anli/test_r2.jsonl", shots=(0, 1)),
    Case("anli_r3", "anli_r3", "data", "anli/test_r3.jsonl", shots=(0,)),
    Case("mnli", "mnli", "data", "glue/mnli_validation_matched.jsonl", shots=(0, 1)),
    Case("mnli_mismatch", "mnli_mismatch", "data", "glue/mnli_validation_mismatched.jsonl",
         shots=(0, 1)),
    Case("rte", "rte", "data", "glue/rte_validation.jsonl", shots=(0,)),
    Case("qnli", "qnli", "fixtures", "glue/qnli_validation.jsonl", shots=(0,)),
    Case("wnli", "wnli", "fixtures", "glue/wnli_validation.jsonl", shots=(0,)),
    Case("sciq", "sciq", "data", "sciq/test.jsonl", shots=(0,)),
    Case("lambada_openai", "lambada_openai", "data", "lambada/lambada_test.jsonl", shots=(0,)),
    Case("truthfulqa_mc1", "truthfulqa_mc1", "data", "truthfulqa/mc_validation.jsonl",
         shots=(0,)),
    Case("truthfulqa_mc2", "truthfulqa_mc2", "data", "truthfulqa/mc_validation.jsonl",
         shots=(0,)),
    Case("wsc273", "wsc273", "fixtures", "wsc273/wsc273_test.jsonl", shots=(0,)),
    Case("mutual", "mutual", "fixtures", "mutual/dev.jsonl", shots=(0,)),
    Case("race", "race", "fixtures", "race/high_test.jsonl", shots=(0,)),
    Case("swag", "swag", "fixtures", "swag/val.csv", shots=(0,)),
    Case("mathqa", "mathqa", "fixtures", "mathqa/test.json", shots=(0,)),
    Case("crows_pairs_english", "crows_pairs_english", "fixtures",
         "crows_pairs/crows_pairs_anonymized.csv", shots=(0,)),
    Case("toxigen", "toxigen", "fixtures", "toxigen/annotated_test.csv", shots=(0,)),
    Case("pubmedqa", "pubmedqa", "fixtures", "pubmedqa/test.jsonl", shots=(0,)),
    # The fixture holds one subject, so all of qgrid's mmlu is mmlu_astronomy.
    Case("mmlu", "mmlu_astronomy", "data", "mmlu/test/astronomy.jsonl",
         shots=(0, 2), fewshot_file="mmlu/dev/astronomy.jsonl"),
    Case("qa4mre_2011", "qa4mre_2011", "fixtures", "qa4mre/2011.main.EN.jsonl", shots=(0,)),
    Case("qa4mre_2012", "qa4mre_2012", "fixtures", "qa4mre/2011.main.EN.jsonl", shots=(0,),
         qgrid_file="qa4mre/2012.main.EN.jsonl"),
    Case("qa4mre_2013", "qa4mre_2013", "fixtures", "qa4mre/2011.main.EN.jsonl", shots=(0,),
         qgrid_file="qa4mre/2013.main.EN.jsonl"),
    Case("mutual_plus", "mutual_plus", "fixtures", "mutual/dev.jsonl", shots=(0,),
         qgrid_file="mutual_plus/dev.jsonl"),
    Case("mc_taco", "mc_taco", "fixtures", "mc_taco/test_9442.tsv", mc_taco_to_hf,
         shots=(0,), reader="tsv"),
    Case("blimp:adjunct_island", "blimp_adjunct_island", "fixtures",
         "blimp/adjunct_island.jsonl", shots=(0,)),
    Case("blimp:anaphor_gender_agreement", "blimp_anaphor_gender_agreement", "fixtures",
         "blimp/anaphor_gender_agreement.jsonl", shots=(0,)),
    # The fixture's train split holds one worked answer: 0- and 1-shot.
    Case("gsm8k", "gsm8k", "data", "gsm8k/test.jsonl", shots=(0, 1),
         fewshot_file="gsm8k/train.jsonl"),
]


def data_dir(case: Case) -> pathlib.Path:
    """The --data-dir the case's file is relative to."""
    if case.data_dir == "shared":
        need_shared("data/" + case.file)
        return need_shared("data")
    return DATA_DIRS[case.data_dir]


def qgrid_data_dir(case: Case, tmp: pathlib.Path) -> pathlib.Path:
    """The --data-dir for qgrid: the case's own, or a folder in `tmp` where
    the case's file sits (linked) at the path qgrid's YAML names."""
    if case.qgrid_file is None:
        return data_dir(case)
    root = tmp / "qgrid-data"
    dst = root / case.qgrid_file
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        dst.symlink_to(data_dir(case) / case.file)
    return root


def _read_docs(case: Case, src: pathlib.Path):
    if case.reader == "tsv":
        with open(src, encoding="utf-8") as f:
            return [line.rstrip("\n").split("\t") for line in f if line.strip()]
    return read_jsonl(src)


def build_task(tm, case: Case, shots: int, tmp: pathlib.Path, limit: int = LIMIT):
    """lm-eval's Task over the case's documents, its requests built."""
    src = data_dir(case) / case.file
    loader = "json"
    if src.suffix == ".csv":
        loader, path = "csv", src  # read as is (datasets' csv builder)
    elif case.to_hf is None and src.suffix in (".json", ".jsonl"):
        path = src
    else:
        path = tmp / f"{case.lm_eval_task}.hf.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for d in _read_docs(case, src):
                f.write(json.dumps(case.to_hf(d), ensure_ascii=False) + "\n")
    # The documents are lm-eval's test split and its few-shot split: lm-eval
    # then draws k + 1 shots and drops the scored document, as qgrid does
    # from the single split of its data file. (With another few-shot split,
    # or none named, lm-eval draws k and may show a document itself.)
    files = {"test": str(path)}
    if case.fewshot_file:
        files["dev"] = str(data_dir(case) / case.fewshot_file)
    overrides = {"task": case.lm_eval_task, "dataset_path": loader, "dataset_name": None,
                 "dataset_kwargs": {"data_files": files},
                 "training_split": None, "validation_split": None, "test_split": "test",
                 "fewshot_split": "dev" if case.fewshot_file else "test",
                 "num_fewshot": shots}
    task = tm._factory.build(tm._entry(case.lm_eval_task), overrides=overrides,
                             registry=tm._index)
    task.set_fewshot_seed(SEED)
    task.build_all_requests(limit=limit, rank=0, world_size=1)
    return task


def instances(task):
    """The task's requests in (doc_id, idx) order."""
    return sorted(task.instances, key=lambda i: (i.doc_id, i.idx))


