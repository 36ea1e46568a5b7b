"""Issue 13 item 5 (RTN): qgrid's round-to-nearest codes are the reference's.

The reference is compressed-tensors' own quantization math, the one
llm-compressor's QuantizationModifier (RTN: a memoryless min-max observer
over each group) applies: calculate_qparams on each group's min and max,
then quantize(). qgrid's codes are read back from its GPTQ export (int32
`qweight` packed along the input, 32/bits codes per word, LSB first) and
must be equal code for code on every linear layer.

Both grids are GPTQ's: the range includes 0; symmetric scale max|x| /
((2^b - 1) / 2) with zero 2^(b-1) (compressed-tensors: signed codes in
[-2^(b-1), 2^(b-1)) with zero 0, i.e. the same codes shifted by 2^(b-1));
asymmetric scale (max - min) / (2^b - 1) with zero round(-min / scale).
qgrid stores fp16 scales and computes the codes with them, after the zero
point was found with the unrounded scale; compressed-tensors does the same
with scale_dtype=float16. Two cases differ by design:
 - exact ties with an odd zero point (asymmetric only): GPTQ's quant.py,
   which qgrid follows, computes round(x / s) + z, compressed-tensors
   round(x / s + z); both round half to even, so x / s = k + 0.5 with odd z
   lands one code apart. The test requires every other code to be equal
   and these to be exactly such ties, one code apart.
 - a group whose values are all 0 (GPTQ widens it to [-1, 1],
   compressed-tensors uses the dtype's eps): not expected in trained
   weights; the test asserts there are none.
"""

import json
import math

import pytest

from conftest import REPO, need_shared, run_qgrid


def _models():
    # stories260K's MLP (172 wide) fills no whole int32 word of a GPTQ
    # export at 4 bits, so only qgrid-tiny's layers are read back here.
    return {"qgrid-tiny": lambda: REPO / "assets" / "qgrid-tiny"}


def unpack_gptq_rows(qweight, bits, n):
    """qweight [n * bits / 32, out] int32 -> codes [n, out] (4 and 8 bits)."""
    import torch
    per = 32 // bits
    mask = (1 << bits) - 1
    q = qweight.to(torch.int64) & 0xFFFFFFFF
    parts = [(q >> (bits * i)) & mask for i in range(per)]
    return torch.stack(parts, dim=1).reshape(-1, q.shape[1])[:n]


def reference_codes(w, bits, group, sym):
    import torch
    from compressed_tensors.quantization import QuantizationArgs
    from compressed_tensors.quantization.lifecycle.forward import quantize
    from compressed_tensors.quantization.utils import calculate_qparams
    out_f, in_f = w.shape
    if group < 0:
        group = in_f  # per channel: one group over the row
    args = QuantizationArgs(num_bits=bits, type="int", symmetric=sym,
                            strategy="group", group_size=group, scale_dtype=torch.float16)
    g = w.reshape(out_f, in_f // group, group)
    assert not (g.abs().amax(dim=2) == 0).any(), "an all-zero group (see the module doc)"
    scale, zp = calculate_qparams(g.amin(dim=2), g.amax(dim=2), args)
    q = quantize(w, scale.to(torch.float32), zp, args, dtype=torch.int8)
    # Per element: x / s and the unsigned zero, to recognise the ties.
    s_full = scale.to(torch.float32).repeat_interleave(group, dim=1)
    z_full = (zp.to(torch.int64) + (1 << (bits - 1))).repeat_interleave(group, dim=1)
    return q.to(torch.int64) + (1 << (bits - 1)), scale, w / s_full, z_full


@pytest.mark.parametrize("sym", [True, False], ids=["sym", "asym"])
@pytest.mark.parametrize("bits,group", [(4, 64), (8, 32), (4, -1)],
                         ids=["w4g64", "w8g32", "w4ch"])
@pytest.mark.parametrize("model", list(_models()))
def test_rtn_codes_equal_compressed_tensors(qgrid_torch, model, bits, group, sym, tmp_path):
    import safetensors.torch
    import torch
    src = _models()[model]()
    out = tmp_path / "gptq"
    run_qgrid(qgrid_torch, "quantize", "--model", src, "--method", "rtn", "--bits", bits,
              "--group-size", group, "--sym" if sym else "--asym", "--format", "gptq",
              "--out", out)
    packed = {}
    for f in out.glob("*.safetensors"):
        packed.update(safetensors.torch.load_file(str(f)))
    dense = {}
    for f in src.glob("*.safetensors"):
        dense.update(safetensors.torch.load_file(str(f)))
    layers = [k[: -len(".qweight")] for k in packed if k.endswith(".qweight")]
    assert layers, f"no qweight in {out}"
    ties, total = 0, 0
    for name in layers:
        w = dense[name + ".weight"].to(torch.float32)
        ours = unpack_gptq_rows(packed[name + ".qweight"], bits, w.shape[1]).T
        theirs, scale, xs, z = reference_codes(w, bits, group, sym)
        ours_scale = packed[name + ".scales"].to(torch.float32).T  # [out, groups]
        assert torch.equal(ours_scale, scale.to(torch.float16).to(torch.float32)), name
        differ = ours != theirs
        tie = ((xs - xs.floor()) == 0.5) & (z % 2 == 1)
        other = differ & ~tie
        assert not other.any(), (
            f"{name}: {other.sum().item()} of {w.numel()} codes differ outside the "
            f"documented ties, e.g. at {other.nonzero()[0].tolist()}")
        assert ((ours - theirs)[differ].abs() == 1).all(), name
        ties += differ.sum().item()
        total += w.numel()
    print(f"rtn {model} w{bits} g{group} {'sym' if sym else 'asym'}: {len(layers)} layers, "
          f"{total} codes, {ties} at documented ties, the rest equal")


def _load(folder):
    import safetensors.torch
    t = {}
    for f in folder.glob("*.safetensors"):
        t.update(safetensors.torch.load_file(str(f)))
    return t


@pytest.mark.parametrize("method,extra", [
    ("rtn", ["--bits", 4, "--group-size", 64, "--asym"]),
    ("gptq", ["--bits", 4, "--group-size", 64, "--asym", "--act-order"]),
    ("gptq", ["--bits", 8, "--group-size", -1, "--sym"]),
], ids=["rtn-w4g64", "gptq-w4g64-actorder", "gptq-w8ch-sym"])
def test_gptq_export_dequantizes_to_the_fake_quant_weights(qgrid_torch, method, extra,
                                                           tmp_path):
    """Item 6 (--format gptq): dequantized by the format's documented rules
    (AutoGPTQ's v1 checkpoint: w[o, i] = scales[g_idx[i], o] * (q[i, o] -
    (qzeros[g_idx[i], o] + 1)), codes and zeros packed LSB first), the export
    is exactly qgrid's fake-quant weights of the same run."""
    import torch
    src = REPO / "assets" / "qgrid-tiny"
    calib = REPO / "tests" / "eval" / "fixtures" / "handmade_prose.txt"
    common = ["quantize", "--model", src, "--method", method, *extra]
    if method == "gptq":
        common += ["--calib", calib, "--calib-samples", 8, "--calib-seqlen", 64]
    run_qgrid(qgrid_torch, *common, "--format", "gptq", "--out", tmp_path / "gptq")
    run_qgrid(qgrid_torch, *common, "--format", "fake", "--out", tmp_path / "fake")
    packed, fake = _load(tmp_path / "gptq"), _load(tmp_path / "fake")
    cfg = json.loads((tmp_path / "gptq" / "config.json").read_text())["quantization_config"]
    assert cfg["quant_method"] == "gptq" and cfg["checkpoint_format"] == "gptq"
    bits = cfg["bits"]
    layers = [k[: -len(".qweight")] for k in packed if k.endswith(".qweight")]
    assert layers
    for name in layers:
        w = fake[name + ".weight"].to(torch.float32)
        q = unpack_gptq_rows(packed[name + ".qweight"], bits, w.shape[1])  # [in, out]
        zeros = unpack_gptq_rows(packed[name + ".qzeros"].T.contiguous(), bits,
                                 w.shape[0]).T + 1                          # [groups, out]
        zeros = zeros & ((1 << bits) - 1)
        scales = packed[name + ".scales"].to(torch.float32)                # [groups, out]
        g = packed[name + ".g_idx"].to(torch.int64)
        deq = (scales[g] * (q - zeros[g]).to(torch.float32)).T
        assert torch.equal(deq, w), f"{name}: max |Δ| {(deq - w).abs().max().item():.3g}"
    print(f"{method} {' '.join(map(str, extra))}: {len(layers)} layers dequantize exactly")


def _perplexity(model, ids, seqlen):
    import torch
    nll, n = 0.0, 0
    with torch.no_grad():
        for i in range(ids.numel() // seqlen):
            x = ids[:, i * seqlen:(i + 1) * seqlen]
            logits = model(x).logits.float()
            nll += torch.nn.functional.cross_entropy(
                logits[0, :-1], x[0, 1:], reduction="sum").item()
            n += seqlen - 1
    return math.exp(nll / n)


def _linear_inputs(model, ids):
    """Every linear layer's inputs on the full-precision model."""
    import torch
    seen, hooks = {}, []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name != "lm_head":
            hooks.append(mod.register_forward_hook(
                lambda m, a, o, name=name: seen.setdefault(name, []).append(
                    a[0].reshape(-1, a[0].shape[-1]).detach())))
    with torch.no_grad():
        model(ids)
    for h in hooks:
        h.remove()
    return {k: torch.cat(v) for k, v in seen.items()}


# Act-order is not compared: qgrid's is GPTQ's desc_act with groups taken
# in the permuted order (a non-monotonic g_idx), which llm-compressor 0.14
# no longer offers (actorder="group" was removed; "weight" keeps groups in
# column order).
@pytest.mark.xfail(strict=True, reason=(
    "open deviation (issue 13 item 5): on qgrid-tiny qgrid's per-layer errors "
    "on held-out WikiText run 10-27% above llm-compressor's (layer 0's q/k/v, "
    "fed the same inputs, within 2-3%), perplexity within 0.9-1.6% (qgrid "
    "lower with sym); the cause is not found yet. Ruled out: input propagation "
    "between sublayers (qgrid, like llm-compressor's sequential pipeline, takes "
    "a block's Hessians in one pass unless true_sequential) and group-scale "
    "timing (llm-compressor fixes minmax scales of the original weights; "
    "qgrid --static-groups measured 28.5% sym / 27.8% asym)"))
@pytest.mark.parametrize("sym,act_order", [(True, False), (False, False)],
                         ids=["sym", "asym"])
def test_gptq_matches_llm_compressors_gptq(qgrid_torch, sym, act_order, tmp_path):
    """Item 5 (GPTQ): llm-compressor's GPTQModifier (W4, group 64, damp 0.01,
    block 128) on the very calibration rows qgrid used (--calib-ids-out):
    per-layer output reconstruction error on held-out text and perplexity
    within 1% of qgrid's GPTQ."""
    import torch
    import transformers
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import GPTQModifier
    src = REPO / "assets" / "qgrid-tiny"
    fixtures = REPO / "tests" / "eval" / "fixtures"
    ids_file, out = tmp_path / "calib.json", tmp_path / "qgrid"
    run_qgrid(qgrid_torch, "quantize", "--model", src, "--method", "gptq", "--bits", 4,
              "--group-size", 64, "--sym" if sym else "--asym",
              "--act-order" if act_order else "--no-act-order",
              "--calib", fixtures / "handmade_prose.txt", "--calib-samples", 16,
              "--calib-seqlen", 64, "--calib-ids-out", ids_file, "--format", "fake",
              "--out", out)
    calib = json.loads(ids_file.read_text())
    ref = transformers.AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    theirs = transformers.AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    weights = {"num_bits": 4, "type": "int", "symmetric": sym, "strategy": "group",
               "group_size": 64, "actorder": "group" if act_order else None}
    oneshot(model=theirs, dataset=Dataset.from_dict(calib),
            recipe=GPTQModifier(config_groups={"g": {"targets": ["Linear"], "weights": weights}},
                                ignore=["lm_head"], dampening_frac=0.01, block_size=128),
            num_calibration_samples=len(calib["input_ids"]),
            max_seq_length=len(calib["input_ids"][0]))
    ours = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    # Held-out text: WikiText-2's test split (not the calibration prose).
    tok = transformers.AutoTokenizer.from_pretrained(src)
    text = need_shared("data/wikitext2/wiki.test.raw").read_text(encoding="utf-8")[:40000]
    ids = torch.tensor([tok(text).input_ids])
    x = _linear_inputs(ref, ids[:, :256])
    ref_mods, our_mods, their_mods = (dict(m.named_modules()) for m in (ref, ours, theirs))
    worst = 0.0
    for name, inp in x.items():
        y = inp @ ref_mods[name].weight.T
        e_ours = ((inp @ our_mods[name].weight.T - y).norm() / y.norm()).item()
        e_theirs = ((inp @ their_mods[name].weight.T - y).norm() / y.norm()).item()
        worst = max(worst, abs(e_ours - e_theirs) / e_theirs)
    ppl_ref, ppl_ours, ppl_theirs = (_perplexity(m, ids, 64) for m in (ref, ours, theirs))
    print(f"gptq w4 g64 {'sym' if sym else 'asym'}{' act-order' if act_order else ''}: "
          f"worst per-layer reconstruction error gap {worst:.2%}, ppl fp {ppl_ref:.3f} "
          f"qgrid {ppl_ours:.3f} llm-compressor {ppl_theirs:.3f}")
    assert worst <= 0.01, f"a layer's reconstruction error differs by {worst:.2%}"
    assert abs(ppl_ours - ppl_theirs) / ppl_theirs <= 0.01
