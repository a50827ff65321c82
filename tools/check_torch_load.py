#!/usr/bin/python3
"""Proves a checkpoint written by `charrnn train` loads into PyTorch with load_state_dict(strict=True) and
gives the same loss as `charrnn eval`.

Usage: /usr/bin/python3 tools/check_torch_load.py MODEL.safetensors TEXT_FILE
Prints the PyTorch loss in nats/char over len-1 predictions from zero state (compare with
`charrnn eval --model MODEL --text TEXT_FILE --json`). Needs only Debian's python3-torch.
"""
import json, struct, sys
import torch, torch.nn as nn

def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", t["dtype"]
        b, e = t["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).reshape(t["shape"])
    return meta, tensors

meta, sd = read_safetensors(sys.argv[1])
# A checkpoint that `charrnn train --resume` can continue also carries the trainer's state (train.adam.m,
# train.hidden_l0, ...): not model parameters, so they are left out of the state dict.
sd = {name: t for name, t in sd.items() if not name.startswith("train.")}
cell, L, H = meta["cell"], int(meta["layers"]), int(meta["hidden"])
vocab = json.loads(meta["vocab"]); V = len(vocab); idx = {c: i for i, c in enumerate(vocab)}

class CharModel(nn.Module):
    def __init__(self):
        super().__init__()
        setattr(self, cell, {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](V, H, L))
        self.head = nn.Linear(H, V)

m = CharModel()
m.load_state_dict(sd, strict=True)
m.double().eval()
# As the engine reads text: a BOM is not text, and \r stays a character (no newline translation).
text = open(sys.argv[2], encoding="utf-8-sig", newline="").read()
x = torch.tensor([idx[c] for c in text])
with torch.no_grad():
    y, _ = getattr(m, cell)(torch.eye(V, dtype=torch.float64)[x[:-1]].unsqueeze(1))
    loss = nn.functional.cross_entropy(m.head(y).squeeze(1), x[1:]).item()
print(json.dumps({"strict_load": "ok", "cell": cell, "chars": len(text), "nats_per_char": loss}))
