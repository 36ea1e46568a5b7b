"""Forward pass and greedy decoding: qgrid vs transformers (issue 13, item 3).

Small random LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM
checkpoints are built and written by transformers itself (save_pretrained),
covering GQA, tied and untied embeddings, rope_scaling linear and llama3,
an explicit head_dim, q/k/v bias (Qwen2) and bias on every linear (LLaMA
attention_bias + mlp_bias), float32 and bfloat16. On the same token
batches:

* `qgrid model logits` equals transformers' logits within 1e-5 (float32) on
  every real (unpadded) position: right-padded batches against
  model(input_ids, attention_mask), left-padded ones against each row run
  alone and against the padded batch with position_ids = cumsum(mask) - 1
  (what generate passes);
* `qgrid generate --tokens-file` (KV-cached, left-padded batch) gives the
  tokens of transformers' generate(do_sample=False), with EOS handling
  (finished rows continue with the pad id) from generation_config.json.

Weights are redrawn so every component matters (unit-gain projections, norm
weights around 1, nonzero biases); logits are of magnitude ~4-10.

float32 (measured, transformers 5.17 / torch 2.11 vs qgrid on libtorch 1.13):
max |difference| <= 7.4e-6 over all cases, the same as transformers' own
distance to its float64 run on the same model (<= 7.4e-6).

bfloat16: qgrid and transformers both compute in bf16 with float32 softmax
and RMSNorm statistics, but summation orders differ and a bf16 rounding can
flip one unit (2^-5 = 0.031 for logits in [4, 8)); measured <= 0.039 vs
transformers' bf16 (whose own distance to float32 is 0.044). BF16_TOL = 0.1
(about 3 units), and qgrid-bf16 must stay within twice transformers' own
bf16-vs-fp32 distance of the float32 reference.
"""

import json

import numpy as np
import pytest
import torch
import transformers

from conftest import run_qgrid

FP32_TOL = 1e-5
BF16_TOL = 0.1  # absolute, on logits of magnitude ~4 (see the module doc)

VOCAB = 256

# name -> (class, config kwargs, dtype)
_BASE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=4, vocab_size=VOCAB,
             max_position_embeddings=2048, bos_token_id=1, eos_token_id=2,
             pad_token_id=None)
CASES = {
    # GQA (4 query heads, 2 kv heads), untied head, default RoPE.
    "llama-gqa-untied": ("LlamaForCausalLM",
                         dict(num_key_value_heads=2, tie_word_embeddings=False,
                              rms_norm_eps=1e-5), torch.float32),
    # Tied embeddings, linear RoPE scaling.
    "llama-tied-linear": ("LlamaForCausalLM",
                          dict(num_key_value_heads=4, tie_word_embeddings=True,
                               rope_scaling={"rope_type": "linear",
                                             "factor": 2.0}),
                          torch.float32),
    # LLaMA-3 RoPE: original context 32, so the test's positions reach
    # every band (high, interpolated, low frequencies).
    "llama3-rope": ("LlamaForCausalLM",
                    dict(num_key_value_heads=1, tie_word_embeddings=False,
                         rope_theta=500000.0,
                         rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                       "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0,
                                       "original_max_position_embeddings":
                                           32}),
                    torch.float32),
    # Mistral with head_dim 32 (heads x head_dim = 128 != hidden 64).
    "mistral-headdim": ("MistralForCausalLM",
                        dict(num_key_value_heads=2, head_dim=32,
                             tie_word_embeddings=False, sliding_window=None),
                        torch.float32),
    # Qwen2: q/k/v bias (randomized below; transformers inits it to 0),
    # tied embeddings, rope_theta 1e6.
    "qwen2-bias-tied": ("Qwen2ForCausalLM",
                        dict(num_key_value_heads=2, tie_word_embeddings=True,
                             rope_theta=1000000.0), torch.float32),
    # LLaMA with attention_bias and mlp_bias (bias on all seven linears).
    "llama-all-bias": ("LlamaForCausalLM",
                       dict(num_key_value_heads=2, attention_bias=True,
                            mlp_bias=True, tie_word_embeddings=False),
                       torch.float32),
    # bfloat16 checkpoints, computed in bfloat16.
    "llama-gqa-bf16": ("LlamaForCausalLM",
                       dict(num_key_value_heads=2, tie_word_embeddings=False),
                       torch.bfloat16),
    "qwen2-bf16": ("Qwen2ForCausalLM",
                   dict(num_key_value_heads=2, tie_word_embeddings=False),
                   torch.bfloat16),
}

# Rows of different lengths (random ids, BOS first).
LENGTHS = [9, 17, 4]
LONG_LEN = 80  # beyond llama3-rope's original context of 32


def _config(cls_name, kwargs):
    kind = {"LlamaForCausalLM": transformers.LlamaConfig,
            "MistralForCausalLM": transformers.MistralConfig,
            "Qwen2ForCausalLM": transformers.Qwen2Config}[cls_name]
    return kind(**{**_BASE, **kwargs}, architectures=[cls_name])


def _randomize(model, seed):
    """Weights that make every component matter: unit-gain projections,
    norm weights around 1, nonzero biases (transformers' init leaves norms at
    1 and biases at 0, which would hide errors in them)."""
    g = torch.Generator().manual_seed(seed)
    # A tied head multiplies by the embeddings: unit-variance embeddings
    # would give logits of magnitude ~70, where float32 itself (transformers
    # vs its float64 run) differs by 2e-5; 0.25 keeps them ~5, as untied.
    embed_std = 0.25 if model.config.tie_word_embeddings else 1.0
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(embed_std * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """name -> folder written by transformers' save_pretrained (lazily)."""
    cache = {}

    def get(name):
        if name not in cache:
            cls_name, kwargs, dtype = CASES[name]
            cfg = _config(cls_name, kwargs)
            torch.manual_seed(0)
            model = getattr(transformers, cls_name)(cfg)
            _randomize(model, seed=sum(map(ord, name)))
            model = model.to(dtype).eval()
            d = tmp_path_factory.mktemp(name)
            model.save_pretrained(d)
            cache[name] = d
        return cache[name]

    return get


def _load_hf(d, dtype, attn="eager"):
    m = transformers.AutoModelForCausalLM.from_pretrained(
        d, dtype=dtype, attn_implementation=attn)
    return m.eval()


def _rows(seed, lengths=LENGTHS):
    g = torch.Generator().manual_seed(seed)
    return [[1] + torch.randint(3, VOCAB, (n - 1,), generator=g).tolist()
            for n in lengths]


def _pad(rows, left, pad_id=0):
    T = max(map(len, rows))
    ids, mask = [], []
    for r in rows:
        p = T - len(r)
        ids.append([pad_id] * p + r if left else r + [pad_id] * p)
        mask.append([0] * p + [1] * len(r) if left else [1] * len(r) + [0] * p)
    return torch.tensor(ids), torch.tensor(mask)


def _qgrid_logits(exe, d, tmp_path, tokens, dtype, left_pad=False, tag="x"):
    tf = tmp_path / f"tokens-{tag}.json"
    tf.write_text(json.dumps(tokens))
    out = tmp_path / f"logits-{tag}.npy"
    args = ["model", "logits", "--model", d, "--tokens-file", tf,
            "--out", out, "--dtype", dtype]
    if left_pad:
        args.append("--left-pad")
    meta = json.loads(run_qgrid(exe, *args))
    logits = np.load(out)
    assert list(logits.shape) == meta["shape"]
    return torch.from_numpy(logits), torch.tensor(meta["attention_mask"])


def _max_diff(a, b, mask):
    m = mask.bool()
    return (a.float()[m] - b.float()[m]).abs().max().item()


def _tol(dtype):
    return FP32_TOL if dtype == torch.float32 else BF16_TOL


def _qdtype(dtype):
    return "fp32" if dtype == torch.float32 else "bf16"


@pytest.mark.parametrize("name", list(CASES))
def test_logits_match_transformers(qgrid_torch, model_dirs, tmp_path, name):
    _, _, dtype = CASES[name]
    d = model_dirs(name)
    hf = _load_hf(d, dtype)
    rows = _rows(seed=len(name))
    tol = _tol(dtype)
    report = {}

    # Left padding, qgrid pads a list of lists.
    q_left, mask_left = _qgrid_logits(qgrid_torch, d, tmp_path, rows,
                                      _qdtype(dtype), left_pad=True,
                                      tag="left")
    ids_left, mask_ref = _pad(rows, left=True)
    assert torch.equal(mask_left, mask_ref)
    with torch.no_grad():
        pos = (mask_ref.cumsum(-1) - 1).masked_fill(mask_ref == 0, 0)
        ref = hf(input_ids=ids_left, attention_mask=mask_ref,
                 position_ids=pos).logits
        report["left-padded batch"] = _max_diff(q_left, ref, mask_ref)
        # Each row alone, unpadded: the padded batch must give its logits.
        T = ids_left.shape[1]
        worst = 0.0
        for i, r in enumerate(rows):
            alone = hf(input_ids=torch.tensor([r])).logits[0]
            worst = max(worst, (q_left[i, T - len(r):] - alone.float())
                        .abs().max().item())
        report["left-padded vs rows alone"] = worst

    # Right padding, given as a tokenizer-style object.
    ids_right, mask_right = _pad(rows, left=False, pad_id=5)
    q_right, m = _qgrid_logits(
        qgrid_torch, d, tmp_path,
        {"input_ids": ids_right.tolist(),
         "attention_mask": mask_right.tolist()}, _qdtype(dtype), tag="right")
    assert torch.equal(m, mask_right)
    with torch.no_grad():
        ref = hf(input_ids=ids_right, attention_mask=mask_right).logits
    report["right-padded batch"] = _max_diff(q_right, ref, mask_right)

    # One longer row (past llama3-rope's original context; 2 rows).
    long_rows = _rows(seed=7, lengths=[LONG_LEN, LONG_LEN])
    q_long, m = _qgrid_logits(qgrid_torch, d, tmp_path, long_rows,
                              _qdtype(dtype), tag="long")
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(long_rows)).logits
    report[f"{LONG_LEN} tokens"] = _max_diff(q_long, ref, m)

    report["max |logit|"] = ref.float().abs().max().item()
    if dtype != torch.float32:
        # transformers' own bf16 error, for scale.
        hf32 = _load_hf(d, torch.float32)
        with torch.no_grad():
            ref32 = hf32(input_ids=torch.tensor(long_rows)).logits
        report["transformers bf16 vs fp32"] = _max_diff(ref, ref32, m)
        report["qgrid bf16 vs transformers fp32"] = _max_diff(q_long, ref32, m)
    else:
        # The float32 noise floor: transformers' own distance to float64.
        hf64 = _load_hf(d, torch.float64)
        with torch.no_grad():
            ref64 = hf64(input_ids=torch.tensor(long_rows)).logits
        report["transformers fp32 vs fp64"] = _max_diff(ref, ref64, m)
        report["qgrid fp32 vs transformers fp64"] = _max_diff(q_long, ref64, m)
    print(name, json.dumps(report))
    checked = {k: v for k, v in report.items()
               if "fp32" not in k and "logit" not in k}
    assert max(checked.values()) <= tol, (name, report)
    if dtype != torch.float32:
        assert report["qgrid bf16 vs transformers fp32"] <= \
            2 * report["transformers bf16 vs fp32"] + tol / 10, (name, report)


def _qgrid_generate(exe, d, tmp_path, rows, dtype, n, ignore_eos, tag):
    tf = tmp_path / f"gen-{tag}.json"
    tf.write_text(json.dumps(rows))
    args = ["generate", "--model", d, "--tokens-file", tf,
            "--max-new-tokens", n, "--dtype", dtype]
    if ignore_eos:
        args.append("--ignore-eos")
    return json.loads(run_qgrid(exe, *args))


def _hf_generate(hf, rows, n, eos, pad):
    ids, mask = _pad(rows, left=True, pad_id=pad if pad is not None else 0)
    gc = transformers.GenerationConfig(
        do_sample=False, max_new_tokens=n, eos_token_id=eos, pad_token_id=pad)
    with torch.no_grad():
        out = hf.generate(input_ids=ids, attention_mask=mask,
                          generation_config=gc)
    return out[:, ids.shape[1]:].tolist()


GEN_STEPS = 12


@pytest.mark.parametrize("name", [
    "llama-gqa-untied", "llama3-rope", "mistral-headdim", "qwen2-bias-tied",
    "llama-gqa-bf16"])
def test_greedy_generate_matches_transformers(qgrid_torch, model_dirs,
                                              tmp_path, name):
    _, _, dtype = CASES[name]
    d = model_dirs(name)
    # transformers' default attention (sdpa) for float32; bf16 with eager
    # attention, whose float32 softmax qgrid follows.
    hf = _load_hf(d, dtype, attn="sdpa" if dtype == torch.float32 else "eager")
    rows = _rows(seed=100 + len(name))

    # No EOS: every row runs GEN_STEPS steps.
    q = _qgrid_generate(qgrid_torch, d, tmp_path, rows, _qdtype(dtype),
                        GEN_STEPS, ignore_eos=True, tag="noeos")
    ref = _hf_generate(hf, rows, GEN_STEPS, eos=None, pad=None)
    assert q["new_ids"] == ref, (name, q["new_ids"], ref)

    # EOS: make a token row 0 produces at step 3 the EOS id (and another
    # id a second EOS), pad 7; from generation_config.json, as transformers
    # reads it.
    eos = [ref[0][3], ref[1][5]]
    pad = 7
    gen_cfg = json.loads((d / "generation_config.json").read_text())
    saved = dict(gen_cfg)
    gen_cfg.update(eos_token_id=eos, pad_token_id=pad)
    (d / "generation_config.json").write_text(json.dumps(gen_cfg))
    try:
        q = _qgrid_generate(qgrid_torch, d, tmp_path, rows, _qdtype(dtype),
                            GEN_STEPS, ignore_eos=False, tag="eos")
    finally:
        (d / "generation_config.json").write_text(json.dumps(saved))
    ref_eos = _hf_generate(hf, rows, GEN_STEPS, eos=eos, pad=pad)
    assert q["eos_token_ids"] == eos and q["pad_token_id"] == pad
    assert q["new_ids"] == ref_eos, (name, q["new_ids"], ref_eos)
    # Row 0 did end (by step 3) and continued with the pad id.
    row0 = ref_eos[0]
    end = next(i for i, t in enumerate(row0) if t in eos)
    assert end <= 3 and all(t == pad for t in row0[end + 1:]), row0
