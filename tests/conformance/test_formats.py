"""Export formats against their reference readers (issue 13, item 6).

compressed-tensors pack-quantized (W4A16 / W8A16): qgrid quantizes a model
twice with the same config and calibration, once to `--format fake` (the
dequantized weights qgrid evaluates) and once to `--format
compressed-tensors`. The compressed-tensors checkpoint is then loaded the
way vLLM's and transformers' users load it: transformers'
`from_pretrained(..., quantization_config=CompressedTensorsConfig(
dequantize=True))`, which parses `quantization_config` with the
compressed-tensors package (QuantizationConfig, pydantic, extra keys
forbidden), builds the compressed parameters with
`ModelCompressor.compress_model`, loads `weight_packed` / `weight_scale` /
`weight_zero_point` / `weight_shape` into them and decompresses with
`ModelCompressor.decompress_model` (PackedQuantizationCompressor:
`unpack_from_int32`, then `(q - zp) * scale` in the scale's dtype). Every
tensor of the decompressed model must EQUAL the fake export's (max |diff| =
0): qgrid's scales are on the fp16 grid and stored as float32, and
(q - zp) * scale is then exact in float32 on both sides.

Act-order with g_idx (GPTQ desc_act without static groups, groups not
contiguous): qgrid writes `weight_g_idx` and `actorder: "group"`, the layout
of compressed-tensors < 0.19 and vLLM's CompressedTensorsWNA16 (not run
here), but compressed-tensors 0.19 removed that ordering and refuses the
config; the test checks the refusal and
dequantizes with the package's own `unpack_from_int32` and
`w[:, j] = (q[:, j] - zp[:, g_idx[j]]) * scale[:, g_idx[j]]`.
Act-order with static groups (contiguous) is `actorder: "weight"` and
goes through the package like the others.

W8A8 (`--a-bits 8`, dynamic per token) is written as "int-quantized"
(int8 `weight` = signed codes, IntQuantizationCompressor) and goes through
the same transformers path; SmoothQuant's migrated norm gains are compared
as the dense tensors they are.

Measured (compressed-tensors 0.19.0, transformers 5.17.0, torch 2.11):
max |diff| = 0 on every tensor of all 20 float32 cases (12 + 2 g_idx +
3 W8A8 on qgrid-tiny, 3 on stories260K).

qgrid writes the scales as float32 for float32/bfloat16 models (bfloat16
cannot hold every fp16-grid scale) and as float16 for float16 models. For
a bfloat16 model the reader itself rounds weight_scale to bf16 (it creates
the parameter in the model's dtype, as vLLM does): its weights then equal
qgrid's codes with bf16-rounded scales exactly, and qgrid's bf16 fake
weights within 0.0039 (see the bfloat16 test).
"""

import json
import pathlib

import pytest
import safetensors.torch
import torch

from conftest import REPO, need_shared, run_qgrid

CALIB = ["--calib", REPO / "ARCHITECTURE.md", "--calib-samples", "8",
         "--calib-seq-len", "64", "--calib-seed", "7"]

# name -> qgrid quantize flags
TINY_CASES = {
    "rtn-w4-g32-asym": ["--method", "rtn", "--bits", "4", "--group-size", "32", "--asym"],
    "rtn-w4-g64-sym": ["--method", "rtn", "--bits", "4", "--group-size", "64", "--sym"],
    "rtn-w4-channel-asym": ["--method", "rtn", "--bits", "4", "--group-size", "-1", "--asym"],
    "rtn-w8-g64-asym": ["--method", "rtn", "--bits", "8", "--group-size", "64", "--asym"],
    "rtn-w8-channel-sym": ["--method", "rtn", "--bits", "8", "--group-size", "-1", "--sym"],
    "gptq-w4-g32-sym": ["--method", "gptq", "--bits", "4", "--group-size", "32", "--sym"],
    "gptq-w4-g64-asym": ["--method", "gptq", "--bits", "4", "--group-size", "64", "--asym"],
    "gptq-w8-g32-asym": ["--method", "gptq", "--bits", "8", "--group-size", "32", "--asym"],
    "gptq-w4-channel-sym": ["--method", "gptq", "--bits", "4", "--group-size", "-1", "--sym"],
    "rtn-w3-g32-asym": ["--method", "rtn", "--bits", "3", "--group-size", "32", "--asym"],
    "awq-w4-g64-asym": ["--method", "awq", "--bits", "4", "--group-size", "64", "--asym"],
    "gptq-w4-g32-actorder-static": ["--method", "gptq", "--bits", "4", "--group-size", "32",
                                    "--asym", "--act-order", "--static-groups"],
}
GIDX_CASES = {
    "gptq-w4-g32-actorder-gidx": ["--method", "gptq", "--bits", "4", "--group-size", "32",
                                  "--asym", "--act-order"],
    "gptq-w8-g64-actorder-gidx-sym": ["--method", "gptq", "--bits", "8", "--group-size", "64",
                                      "--sym", "--act-order"],
}


def _quantize(exe, model, flags, out, fmt, extra=()):
    run_qgrid(exe, "quantize", "--model", model, *flags, *CALIB, *extra,
              "--format", fmt, "--out", out)
    rep = json.loads((out / "quant_report.json").read_text())
    return rep.get("weights_sha256")


def _pair(exe, model, flags, tmp_path, extra=()):
    fake, ct = tmp_path / "fake", tmp_path / "ct"
    h1 = _quantize(exe, model, flags, fake, "fake", extra)
    h2 = _quantize(exe, model, flags, ct, "compressed-tensors", extra)
    assert h1 == h2, "the two quantize runs did not give the same weights"
    return fake, ct


def _load_fake(d):
    return safetensors.torch.load_file(str(d / "model.safetensors"))


def _decompress_with_transformers(ct_dir, dtype=torch.float32):
    import transformers
    from transformers import CompressedTensorsConfig
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(ct_dir), dtype=dtype,
        quantization_config=CompressedTensorsConfig(dequantize=True))
    return {k: v.detach() for k, v in model.state_dict().items()}


def _compare(fake, got, quantized_names):
    worst = 0.0
    missing = sorted(set(fake) - set(got))
    # Only a tied lm_head may be absent from the transformers state dict.
    assert missing in ([], ["lm_head.weight"]), missing
    for name, ref in fake.items():
        if name not in got:
            continue
        g = got[name].to(ref.dtype)
        assert g.shape == ref.shape, name
        diff = (g - ref).abs().max().item() if ref.numel() else 0.0
        worst = max(worst, diff)
        assert diff == 0.0, f"{name}: max |diff| {diff}"
    for n in quantized_names:
        assert n + ".weight" in got, n
    return worst


def _packed_modules(ct_dir):
    sd = safetensors.torch.load_file(str(ct_dir / "model.safetensors"))
    return sd, sorted(k[: -len(".weight_packed")] for k in sd if k.endswith(".weight_packed"))


def _check_config(ct_dir, flags):
    from compressed_tensors.quantization import QuantizationConfig
    cfg = json.loads((ct_dir / "config.json").read_text())
    qc = cfg["quantization_config"]
    assert qc["quant_method"] == "compressed-tensors"
    assert qc["format"] == ("int-quantized" if "--a-bits" in flags else "pack-quantized")
    assert qc["quantization_status"] == "compressed"
    assert "lm_head" in qc["ignore"]
    parsed = QuantizationConfig.model_validate(qc)
    w = parsed.config_groups["group_0"].weights
    bits = int(flags[flags.index("--bits") + 1])
    assert w.num_bits == bits and w.type == "int"
    assert w.symmetric == ("--sym" in flags)
    return parsed


def _run_case(qgrid_torch, model, flags, tmp_path, extra=()):
    fake_dir, ct_dir = _pair(qgrid_torch, model, flags, tmp_path, extra)
    _check_config(ct_dir, flags)
    sd, mods = _packed_modules(ct_dir)
    assert mods, "no packed module in the export"
    for m in mods:
        assert sd[m + ".weight_packed"].dtype == torch.int32
        assert (m + ".weight_zero_point" in sd) == ("--asym" in flags)
    fake = _load_fake(fake_dir)
    got = _decompress_with_transformers(ct_dir)
    return _compare(fake, got, mods), len(mods)


@pytest.mark.parametrize("case", sorted(TINY_CASES))
def test_compressed_tensors_tiny_decompresses_to_fake(qgrid_torch, case, tmp_path):
    worst, n = _run_case(qgrid_torch, REPO / "assets" / "qgrid-tiny",
                         TINY_CASES[case], tmp_path)
    print(f"{case}: {n} packed modules, max |diff| {worst}")


def _dequant_gidx(ct_dir, qc):
    """The g_idx rule with the package's own unpacking."""
    from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32
    g0 = qc["config_groups"]["group_0"]["weights"]
    assert g0["actorder"] == "group"
    bits, sym = g0["num_bits"], g0["symmetric"]
    sd, mods = _packed_modules(ct_dir)
    out = {}
    for m in mods:
        shape = torch.Size(sd[m + ".weight_shape"].tolist())
        q = unpack_from_int32(sd[m + ".weight_packed"], bits, shape).to(torch.float32)
        scale = sd[m + ".weight_scale"]
        g_idx = sd[m + ".weight_g_idx"].long()
        assert g_idx.shape == (shape[1],)
        if sym:
            zp = torch.zeros_like(scale)
        else:
            zp = unpack_from_int32(sd[m + ".weight_zero_point"], bits,
                                   (shape[0], scale.shape[1]), packed_dim=0)
        out[m + ".weight"] = ((q - zp[:, g_idx].to(torch.float32)) *
                              scale[:, g_idx]).to(scale.dtype)
    return out, mods


@pytest.mark.parametrize("case", sorted(GIDX_CASES))
def test_compressed_tensors_actorder_gidx(qgrid_torch, case, tmp_path):
    from compressed_tensors.quantization import QuantizationConfig
    flags = GIDX_CASES[case]
    fake_dir, ct_dir = _pair(qgrid_torch, REPO / "assets" / "qgrid-tiny", flags, tmp_path)
    qc = json.loads((ct_dir / "config.json").read_text())["quantization_config"]
    with pytest.raises(Exception, match="group"):
        QuantizationConfig.model_validate(qc)
    got, mods = _dequant_gidx(ct_dir, qc)
    fake = _load_fake(fake_dir)
    worst = 0.0
    for name, w in got.items():
        diff = (w - fake[name]).abs().max().item()
        worst = max(worst, diff)
        assert diff == 0.0, f"{name}: max |diff| {diff}"
    print(f"{case}: {len(mods)} packed modules, max |diff| {worst}")


# W8A8 int-quantized: int8 `weight` (signed codes), per-channel or group
# scales, dynamic per-token int8 activations in the config. SmoothQuant's
# migrated weights and norm gains go with it (the norms as dense tensors).
W8A8_CASES = {
    "rtn-w8a8-channel-sym": ["--method", "rtn", "--bits", "8", "--group-size", "-1", "--sym",
                             "--a-bits", "8"],
    "smoothquant-w8a8-channel-sym": ["--method", "smoothquant", "--bits", "8",
                                     "--group-size", "-1", "--sym", "--a-bits", "8"],
    "gptq-w8a8-g64-asym": ["--method", "gptq", "--bits", "8", "--group-size", "64", "--asym",
                           "--a-bits", "8"],
}


@pytest.mark.parametrize("case", sorted(W8A8_CASES))
def test_compressed_tensors_w8a8_int_quantized(qgrid_torch, case, tmp_path):
    flags = W8A8_CASES[case]
    fake_dir, ct_dir = _pair(qgrid_torch, REPO / "assets" / "qgrid-tiny", flags, tmp_path)
    parsed = _check_config(ct_dir, flags)
    assert parsed.format == "int-quantized"
    a = parsed.config_groups["group_0"].input_activations
    assert (a.num_bits, a.type, a.strategy, a.dynamic, a.symmetric) == (
        8, "int", "token", True, True)
    sd = safetensors.torch.load_file(str(ct_dir / "model.safetensors"))
    q = "model.layers.0.self_attn.q_proj"
    assert sd[q + ".weight"].dtype == torch.int8
    assert (q + ".weight_zero_point" in sd) == ("--asym" in flags)
    mods = sorted(k[: -len(".weight_scale")] for k in sd if k.endswith(".weight_scale"))
    worst = _compare(_load_fake(fake_dir), _decompress_with_transformers(ct_dir), mods)
    print(f"{case}: {len(mods)} int8 modules, max |diff| {worst}")


def test_compressed_tensors_bfloat16_model_rounds_scales_to_bf16(qgrid_torch, tmp_path):
    """A bfloat16 model (libtorch's CPU matmul has no float16). qgrid stores
    the fp16-grid scales as float32, but compressed-tensors (like vLLM)
    creates weight_scale in the model's dtype, so the reader rounds each
    scale to bf16 (8 significant bits against fp16's 11) and dequantizes
    in bf16. The decompressed weights therefore equal qgrid's codes and
    zero points with bf16-rounded scales exactly, and differ from qgrid's
    own bf16 fake-quant weights by the scale rounding (measured max |diff|
    0.0039, relative <= 2^-8 of a weight): a documented limitation of
    bf16 checkpoints, not of the layout."""
    from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32
    flags = ["--method", "gptq", "--bits", "4", "--group-size", "32", "--asym"]
    fake_dir, ct_dir = _pair(qgrid_torch, REPO / "assets" / "qgrid-tiny", flags, tmp_path,
                             ("--dtype", "bfloat16"))
    _check_config(ct_dir, flags)
    sd, mods = _packed_modules(ct_dir)
    assert all(sd[m + ".weight_scale"].dtype == torch.float32 for m in mods)
    fake = _load_fake(fake_dir)
    got = _decompress_with_transformers(ct_dir, torch.bfloat16)
    worst_fake = 0.0
    for m in mods:
        shape = torch.Size(sd[m + ".weight_shape"].tolist())
        q = unpack_from_int32(sd[m + ".weight_packed"], 4, shape)
        scale = sd[m + ".weight_scale"].to(torch.bfloat16)
        zp = unpack_from_int32(sd[m + ".weight_zero_point"], 4,
                               (shape[0], scale.shape[1]), packed_dim=0)
        g = torch.arange(shape[1]) // 32
        want = (q.to(torch.bfloat16) - zp[:, g].to(torch.bfloat16)) * scale[:, g]
        w = got[m + ".weight"]
        assert w.dtype == torch.bfloat16
        assert torch.equal(w, want), m
        worst_fake = max(worst_fake, (w.float() - fake[m + ".weight"].float()).abs().max().item())
    for name, ref in fake.items():  # the dense tensors are exact
        if not any(name.startswith(m + ".") for m in mods) and name in got:
            assert torch.equal(got[name].to(ref.dtype), ref), name
    print(f"bfloat16 gptq-w4-g32-asym: {len(mods)} packed modules equal with bf16 "
          f"scales; max |diff| to qgrid's fake {worst_fake}")


STORIES_CASES = {
    # in dim 172 (down_proj) and out dim 172 (gate/up): packed rows and
    # zero points padded to whole words.
    "rtn-w4-channel-asym": ["--method", "rtn", "--bits", "4", "--group-size", "-1", "--asym"],
    "gptq-w8-channel-sym": ["--method", "gptq", "--bits", "8", "--group-size", "-1", "--sym"],
    # group 32 does not divide 172: down_proj per channel by a layer rule,
    # a second config group that names its modules.
    "gptq-w4-g32-asym-mixed": ["--method", "gptq", "--bits", "4", "--group-size", "32",
                               "--asym"],
}


@pytest.mark.parametrize("case", sorted(STORIES_CASES))
def test_compressed_tensors_stories260k(qgrid_torch, case, tmp_path):
    model = need_shared("models/stories260K")
    extra = ()
    if case.endswith("mixed"):
        rules = tmp_path / "rules.yaml"
        rules.write_text('- {match: "mlp\\\\.down_proj", group_size: -1}\n')
        extra = ("--layer-rules", rules)
    worst, n = _run_case(qgrid_torch, model, STORIES_CASES[case], tmp_path, extra)
    if case.endswith("mixed"):
        qc = json.loads((tmp_path / "ct" / "config.json").read_text())["quantization_config"]
        assert len(qc["config_groups"]) == 2
    print(f"stories260K {case}: {n} packed modules, max |diff| {worst}")
