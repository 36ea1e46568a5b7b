"""Issue 13 item 2: scores.

lm-eval's `hf` backend (transformers on CPU, float32) scores lm-eval's own
requests (lm_eval_tasks.py) on a real checkpoint; `qgrid eval` scores the
same documents. Per-request log-likelihoods agree within 1e-4 and the
acc/acc_norm counts are identical. GPTQ-style WikiText-2 perplexity equals
GPTQ's evaluation loop (its datautils/llama_eval: the test text joined with
"\\n\\n", tokenized once, non-overlapping seqlen windows, the loss of every
window times seqlen summed, exp of the mean) run on transformers, within
1e-6 relative.
"""

import collections
import math

import pytest

from conftest import REPO, need_shared, read_jsonl, run_qgrid
from lm_eval_tasks import CASES, Case, build_task, data_dir, instances

LIMIT = 25  # documents per task
LL_TOL = 1e-4
SCORED = ["arc_easy", "piqa", "winogrande", "boolq", "hellaswag"]


def _models():
    return {"stories260K": lambda: need_shared("models/stories260K"),
            "qgrid-tiny": lambda: REPO / "assets" / "qgrid-tiny"}


@pytest.fixture(scope="module")
def task_manager():
    from lm_eval.tasks import TaskManager
    return TaskManager()


_LMS = {}


def hf_lm(path):
    """lm-eval's HFLM on CPU in float32, with its defaults otherwise (the
    tokenizer's own BOS behaviour, batch size 1 so no padding is involved)."""
    key = str(path)
    if key not in _LMS:
        from lm_eval.models.huggingface import HFLM
        _LMS[key] = HFLM(pretrained=key, device="cpu", dtype="float32", batch_size=1)
    return _LMS[key]


def lm_eval_scores(tm, lm, case: Case, tmp):
    """Per document: the log-likelihood of each choice and lm-eval's own
    process_results (acc, acc_norm)."""
    task = build_task(tm, case, 0, tmp, limit=LIMIT)
    inst = instances(task)
    results = lm.loglikelihood(inst)
    by_doc = collections.OrderedDict()
    for i, r in zip(inst, results):
        by_doc.setdefault(i.doc_id, (i.doc, []))[1].append(r)
    out = []
    for doc_id, (doc, rs) in by_doc.items():
        metrics = task.process_results(doc, rs)
        out.append({"ll": [r[0] for r in rs], "acc": metrics["acc"],
                    "acc_norm": metrics.get("acc_norm")})
    return out


def qgrid_scores(exe, model, case: Case, tmp):
    samples = tmp / f"{case.qgrid_task}.samples.jsonl"
    run_qgrid(exe, "eval", "--model", model, "--task", case.qgrid_task,
              "--data-dir", data_dir(case), "--shots", 0, "--limit", LIMIT,
              "--samples-out", samples, "--json")
    return [{"ll": r["loglikelihoods"], "acc": r["metrics"]["acc"],
             "acc_norm": r["metrics"].get("acc_norm")} for r in read_jsonl(samples)]


@pytest.mark.parametrize("model", list(_models()), ids=str)
@pytest.mark.parametrize("case", [c for c in CASES if c.qgrid_task in SCORED],
                         ids=lambda c: c.qgrid_task)
def test_loglikelihoods_and_counts_equal_lm_evals(qgrid_torch, task_manager, case, model,
                                                 tmp_path):
    path = _models()[model]()
    theirs = lm_eval_scores(task_manager, hf_lm(path), case, tmp_path)
    ours = qgrid_scores(qgrid_torch, path, case, tmp_path)
    assert len(ours) == len(theirs)
    worst = max(abs(a - b) for o, t in zip(ours, theirs) for a, b in zip(o["ll"], t["ll"]))
    assert all(len(o["ll"]) == len(t["ll"]) for o, t in zip(ours, theirs))
    assert worst <= LL_TOL, f"{case.qgrid_task} on {model}: max |Δ log-likelihood| {worst:.3g}"
    for m in ("acc", "acc_norm"):
        if theirs[0][m] is None:
            continue
        a, b = sum(o[m] for o in ours), sum(t[m] for t in theirs)
        assert a == b, f"{case.qgrid_task} on {model}: {m} count qgrid {a} vs lm-eval {b}"
    print(f"{case.qgrid_task} {model}: {sum(len(t['ll']) for t in theirs)} requests, "
          f"max |Δll| {worst:.2e}")


def gptq_loop_perplexity(model_dir, text, seqlen, max_windows):
    """GPTQ's evaluation loop on transformers (float32, CPU)."""
    import torch
    import transformers
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir,
                                                              dtype=torch.float32)
    model.eval()
    # GPTQ ran LLaMA with transformers' LlamaTokenizer of its time, i.e.
    # SentencePiece itself (BOS + sp.encode). transformers 5 converts
    # tokenizer.model into a `tokenizers` Metaspace(prepend_scheme=first)
    # pipeline that drops SentencePiece's dummy prefix before a leading
    # space (" = Robert" -> "▁=", SentencePiece "▁▁="): not GPTQ's ids.
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / "tokenizer.model"))
    ids = torch.tensor([[sp.bos_id()] + sp.encode(text)])
    n = min(ids.numel() // seqlen, max_windows)
    nlls = []
    with torch.no_grad():
        for i in range(n):
            batch = ids[:, i * seqlen:(i + 1) * seqlen]
            logits = model(batch).logits.float()
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1, :].reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
            nlls.append(loss.double() * seqlen)
    return math.exp(torch.stack(nlls).sum().item() / (n * seqlen)), n


def test_gptq_style_wikitext2_perplexity_equals_gptqs_loop(qgrid_torch, tmp_path):
    model = need_shared("models/stories260K")
    raw = need_shared("data/wikitext2/wiki.test.raw")
    seqlen, windows = 256, 8
    # GPTQ's datautils joins the rows of Hugging Face's wikitext-2-raw-v1
    # test split with "\n\n". Those rows are the lines of wiki.test.raw as
    # its builder reads them (Python's line iteration: each line with its
    # newline; a whitespace-only line becomes "").
    with open(raw, encoding="utf-8") as f:
        rows = [line if line.strip() else "" for line in f]
    text = "\n\n".join(rows)
    theirs, n = gptq_loop_perplexity(model, text, seqlen, windows)
    out = run_qgrid(qgrid_torch, "eval", "--model", model, "--task", "wikitext2_gptq",
                    "--data-dir", raw.parents[1], "--limit", windows, "--max-length", seqlen,
                    "--json")
    import json
    res = json.loads(out)["results"]["wikitext2_gptq"]
    ours = res["perplexity,none"]
    print(f"wikitext2_gptq stories260K {n}x{seqlen}: qgrid {ours:.10g}, GPTQ loop {theirs:.10g}")
    assert abs(ours - theirs) / theirs <= 1e-6, f"qgrid {ours} vs GPTQ loop {theirs} ({n} windows)"
