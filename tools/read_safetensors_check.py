#!/usr/bin/python3
"""Read back the fixtures written by make_fixtures.py and check them.

For every tests/Engine.Tests/Fixtures/*.safetensors file this:
  * parses it with a small independent reader (layout, 8-byte aligned header,
    F32 only, tensors packed contiguously with no gaps or trailing bytes);
  * if the optional `safetensors` package is importable, loads it with that
    too and compares every tensor and the metadata;
and for every cell it:
  * loads {cell}_model.safetensors into a fresh CharModel with
    load_state_dict(strict=True), proving the tensor names and shapes;
  * checks the reference file's keys/shapes against the model and recomputes
    logits and loss for the first window in float64.

Run:  /usr/bin/python3 tools/read_safetensors_check.py
Exits non-zero (AssertionError) on the first failed check.
"""

import glob
import json
import os
import struct
import sys

import torch

sys.dont_write_bytecode = True   # keep tools/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import CELLS, OUT_DIR, CharModel, loss_on_window  # noqa: E402


def read_safetensors(path):
    """Minimal reader: returns (dict name -> float32 tensor, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    assert n % 8 == 0, f"{path}: header length {n} is not a multiple of 8"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())

    tensors = {}
    expected_begin = 0
    for name, info in header.items():          # JSON object order = file order
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        begin, end = info["data_offsets"]
        assert begin == expected_begin, f"{name}: gap or overlap at {begin}"
        count = 1
        for d in info["shape"]:
            count *= d
        assert end - begin == 4 * count, f"{name}: size does not match shape"
        values = struct.unpack_from("<%df" % count, data, begin)
        tensors[name] = torch.tensor(values, dtype=torch.float32).reshape(info["shape"])
        expected_begin = end
    assert expected_begin == len(data), f"{path}: {len(data) - expected_begin} trailing bytes"
    return tensors, metadata


def check_with_safetensors_package(path, tensors, metadata):
    """Cross-check with the official package, if it happens to be installed."""
    try:
        from safetensors import safe_open
    except ImportError:
        return False
    with safe_open(path, framework="pt") as f:
        assert set(f.keys()) == set(tensors), f"{path}: key mismatch"
        assert (f.metadata() or {}) == metadata, f"{path}: metadata mismatch"
        for k in f.keys():
            assert torch.equal(f.get_tensor(k), tensors[k]), f"{path}: {k} differs"
    return True


def check_cell(cell, files):
    model_t, model_meta = files[f"{cell}_model.safetensors"]
    ref_t, ref_meta = files[f"{cell}_reference.safetensors"]

    vocab = json.loads(model_meta["vocab"])
    V, L, H = len(vocab), int(model_meta["layers"]), int(model_meta["hidden"])
    assert model_meta["charrnn.format"] == "1" and model_meta["cell"] == cell
    assert vocab == sorted(set(ref_meta["text"])), "vocab != sorted(set(text))"
    assert all(len(c) == 1 for c in vocab)

    # Strict load proves names and shapes match the PyTorch module exactly.
    model = CharModel(cell, V, H, L)
    model.load_state_dict(model_t, strict=True)

    # Reference file: one grad.* and final.* per parameter, same shapes.
    for name, p in model.state_dict().items():
        assert ref_t["grad." + name].shape == p.shape
        assert ref_t["final." + name].shape == p.shape
    T, B, S = int(ref_meta["steps"]), int(ref_meta["batch"]), int(ref_meta["adam.steps"])
    assert ref_t["inputs"].shape == (T, B) and ref_t["targets"].shape == (T, B)
    assert ref_t["logits"].shape == (T, B, V) and ref_t["loss"].shape == (1,)
    assert ref_t["adam.inputs"].shape == (S, T, B) and ref_t["adam.losses"].shape == (S,)
    assert torch.equal(ref_t["adam.inputs"][0], ref_t["inputs"])
    assert ref_t["adam.losses"][0] == ref_t["loss"][0]

    # Recompute window 0 in float64 from the loaded F32 weights.
    x = ref_t["inputs"].long()
    y = ref_t["targets"].long()
    assert torch.equal(x.double(), ref_t["inputs"].double())   # exact integers
    m64 = model.double()
    with torch.no_grad():
        logits, loss, _ = loss_on_window(m64, x, y, m64.zero_state(B), V)
    assert torch.equal(logits.float(), ref_t["logits"]), "logits differ"
    assert torch.equal(loss.float().reshape(1), ref_t["loss"]), "loss differs"
    print(f"  {cell}: strict load OK, V={V} L={L} H={H} T={T} B={B} S={S}, "
          f"loss={ref_t['loss'].item():.6f} recomputed exactly")


def main():
    torch.set_num_threads(1)
    paths = sorted(glob.glob(os.path.join(OUT_DIR, "*.safetensors")))
    assert paths, f"no fixtures in {OUT_DIR}; run tools/make_fixtures.py first"
    files = {}
    for path in paths:
        tensors, metadata = read_safetensors(path)
        pkg = check_with_safetensors_package(path, tensors, metadata)
        files[os.path.basename(path)] = (tensors, metadata)
        print(f"{os.path.basename(path)}: {len(tensors)} tensors, "
              f"{os.path.getsize(path)} bytes, metadata {sorted(metadata)}"
              f"{'; safetensors package agrees' if pkg else ''}")
    for cell in CELLS:
        check_cell(cell, files)
    print("all fixtures OK")


if __name__ == "__main__":
    main()
