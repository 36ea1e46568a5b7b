#!/usr/bin/python3
"""Independent check that a Hugging Face LLaMA folder means what qgrid thinks.

Reads config.json, model.safetensors and tokenizer.model of a Hugging Face
LlamaForCausalLM folder with nothing but numpy and sentencepiece (no torch,
no transformers, no qgrid code) and computes the GPTQ-style perplexity of a
text file with the forward pass written from the transformers LLaMA
definition: RMSNorm in fp32, rotate-half RoPE on q/k, grouped-query
attention by repeating the key/value heads, causal softmax attention,
SwiGLU MLP, final norm, lm_head (or the tied embedding).

Compare its number with `qgrid ppl --model DIR --text-file F --seqlen N`:
both read bf16/fp16/fp32 weights into fp32, so they should agree to about
1e-4 relative. A mismatch means a layout or config field is read differently
(for example q/k in Meta's interleaved RoPE order instead of Hugging Face's
rotate-half order), i.e. the folder would not behave the same in transformers.

Usage: tools/hf_llama_reference.py MODEL_DIR TEXT_FILE [--seqlen 128]
       [--max-bytes N]
Needs: apt-get install python3-numpy python3-sentencepiece (not a qgrid
dependency; a developer's cross-check only).
"""

import argparse
import json
import math
import struct
import sys

import numpy as np
import sentencepiece as spm


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = np.frombuffer(data[begin:end], dtype=np.uint8)
        dtype = info["dtype"]
        if dtype == "BF16":
            # bfloat16 is the top half of an IEEE float32.
            arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif dtype == "F16":
            arr = raw.view(np.float16).astype(np.float32)
        elif dtype == "F32":
            arr = raw.view(np.float32).copy()
        else:
            sys.exit(f"{path}: {name}: dtype {dtype} not handled here")
        tensors[name] = arr.reshape(info["shape"])
    return tensors


def rms_norm(x, w, eps):
    var = np.mean(x * x, axis=-1, keepdims=True)
    return (x / np.sqrt(var + eps)) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def forward(ids, cfg, w):
    hidden = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or hidden // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    if cfg.get("rope_scaling"):
        sys.exit("rope_scaling is not implemented in this reference")
    t = len(ids)
    x = w["model.embed_tokens.weight"][ids]
    inv_freq = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float32) / hd))
    freqs = np.outer(np.arange(t, dtype=np.float32), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
    mask = np.triu(np.full((t, t), -np.inf, dtype=np.float32), k=1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(t, nh, hd)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(t, nkv, hd)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(t, nkv, hd)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, nh // nkv, axis=1)
        v = np.repeat(v, nh // nkv, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd) + mask
        scores -= scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        attn = np.einsum("hqk,khd->qhd", probs, v).reshape(t, nh * hd)
        x = x + attn @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + ((gate / (1 + np.exp(-gate))) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight")
    if head is None or cfg.get("tie_word_embeddings"):
        head = w["model.embed_tokens.weight"]
    return x @ head.T


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("text_file")
    ap.add_argument("--seqlen", type=int, default=128)
    ap.add_argument("--max-bytes", type=int, default=0)
    a = ap.parse_args()
    cfg = json.load(open(f"{a.model_dir}/config.json"))
    if cfg.get("model_type") != "llama":
        sys.exit(f"model_type {cfg.get('model_type')}: only llama here")
    w = read_safetensors(f"{a.model_dir}/model.safetensors")
    sp = spm.SentencePieceProcessor(model_file=f"{a.model_dir}/tokenizer.model")
    text = open(a.text_file, "rb").read()
    if a.max_bytes:
        text = text[: a.max_bytes]
    text = text.decode("utf-8", errors="replace")
    # LlamaTokenizer (add_bos_token) on the whole text, as GPTQ's recipe.
    ids = [sp.bos_id()] + sp.encode(text)
    windows = len(ids) // a.seqlen
    nll = 0.0
    for s in range(windows):
        chunk = ids[s * a.seqlen : (s + 1) * a.seqlen]
        logits = forward(np.array(chunk), cfg, w).astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        nll += -np.mean([logp[j, chunk[j + 1]] for j in range(a.seqlen - 1)])
    print(json.dumps({"ppl": math.exp(nll / windows), "tokens": len(ids),
                      "windows": windows, "seqlen": a.seqlen}))


if __name__ == "__main__":
    main()
