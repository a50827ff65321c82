#!/usr/bin/python3
"""Generate the PyTorch reference fixtures for the CharRnn.Simd engine tests.

For each recurrent cell ("lstm", "gru", "rnn") this writes two safetensors
files into tests/Engine.Tests/Fixtures/ (relative to the repository root):

  {cell}_model.safetensors      The initial model (F32): the state_dict of
                                CharModel below, plus "__metadata__" with
                                "charrnn.format", "cell", "layers", "hidden"
                                and "vocab" (a JSON array of one-character
                                strings in index order).

  {cell}_reference.safetensors  Reference values computed in float64 from
                                exactly those F32 weights, stored as F32:
                                  inputs, targets        (T, B)
                                  logits                 (T, B, V)
                                  loss                   (1,)
                                  grad.<param>           one per parameter
                                  adam.inputs/targets    (S, T, B)
                                  adam.losses            (S,)
                                  final.<param>          after S Adam steps

Run from anywhere (needs only the Debian python3-torch package):

    apt-get install -y python3-torch
    /usr/bin/python3 tools/make_fixtures.py

The output is deterministic: every cell starts from torch.manual_seed(SEED),
computation is single-threaded, and the safetensors files are written by hand
(no dependency other than torch and the standard library).
"""

import copy
import json
import math
import os
import struct

import torch
import torch.nn as nn

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

SEED = 20240611
CELLS = ("lstm", "gru", "rnn")

L = 2      # layers
H = 5      # hidden size
B = 3      # batch size (number of parallel streams)
T = 4      # truncated-BPTT window length (time steps per training step)
S = 6      # number of Adam steps in the training reference

LR = 0.01   # Adam learning rate (default betas / eps)
# Max total L2 norm for clip_grad_norm_. 0.5 was the first choice, but with
# these sizes the LSTM and GRU gradient norms stay below it (~0.27-0.47), so
# clipping would never run for them. 0.35 makes every cell clip on some steps,
# and the LSTM/GRU also have unclipped steps, so both paths are exercised.
CLIP = 0.35

# "Twinkle, Twinkle, Little Star", Jane Taylor (1806); public domain.
TEXT = (
    "Twinkle, twinkle, little star,\n"
    "How I wonder what you are!\n"
    "Up above the world so high,\n"
    "Like a diamond in the sky.\n"
    "\n"
    "When the blazing sun is gone,\n"
    "When he nothing shines upon,\n"
    "Then you show your little light,\n"
    "Twinkle, twinkle, all the night.\n"
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "Engine.Tests", "Fixtures")


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class CharModel(nn.Module):
    """Stacked recurrent cell + linear head. Time-major: inputs are (T, B, V)."""

    def __init__(self, cell, V, H, L):
        super().__init__()
        rnn_cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        kwargs = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.cell = cell
        # Attribute name = cell name, so state_dict keys are e.g. "lstm.weight_ih_l0".
        setattr(self, cell, rnn_cls(V, H, L, **kwargs))
        self.head = nn.Linear(H, V)

    @property
    def recurrent(self):
        # Not called `rnn`: that would shadow the submodule of the "rnn" cell.
        return getattr(self, self.cell)

    def zero_state(self, batch):
        """Zero initial state: (h, c) for LSTM, h otherwise; each (L, B, H)."""
        p = self.head.weight
        h = torch.zeros(self.recurrent.num_layers, batch, self.recurrent.hidden_size,
                        dtype=p.dtype, device=p.device)
        return (h, h.clone()) if self.cell == "lstm" else h

    def forward(self, x, state):
        out, state = self.recurrent(x, state)      # out: (T, B, H)
        return self.head(out), state         # logits: (T, B, V)


def detach_state(state):
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


# --------------------------------------------------------------------------
# Data: vocabulary and the batching rule shared with the C# engine
# --------------------------------------------------------------------------

def make_vocab(text):
    """Sorted set of characters by code point."""
    return sorted(set(text))


def make_streams(data, batch, steps):
    """Split the index sequence into `batch` contiguous streams.

    n_used = floor((len(data) - 1) / (B * T)) * B * T; stream b covers
    data[b * n_used / B : (b + 1) * n_used / B] and its targets are the same
    slice shifted by one character. Returns (inputs, targets) as lists of
    `batch` lists, plus the number of windows per stream.
    """
    n_used = ((len(data) - 1) // (batch * steps)) * batch * steps
    per = n_used // batch
    inputs = [data[b * per:(b + 1) * per] for b in range(batch)]
    targets = [data[b * per + 1:(b + 1) * per + 1] for b in range(batch)]
    return inputs, targets, per // steps


def window(streams, k, steps):
    """Window k as a (T, B) long tensor: w[t, b] = stream_b[k * T + t]."""
    cols = [s[k * steps:(k + 1) * steps] for s in streams]
    return torch.tensor(cols, dtype=torch.long).t().contiguous()


# --------------------------------------------------------------------------
# safetensors writer (by hand; see https://github.com/huggingface/safetensors)
# --------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata):
    """Write F32 tensors (ordered dict name -> tensor) and str->str metadata.

    Layout: u64 little-endian header length N, N bytes of UTF-8 JSON header
    (padded with trailing spaces so N % 8 == 0), then the raw little-endian
    tensor data, packed contiguously in the order given.
    """
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().to(torch.float32).contiguous().cpu()
        values = t.reshape(-1).tolist()       # floats exactly representable in F32
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {
            "dtype": "F32",
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)

    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for blob in blobs:
            f.write(blob)


# --------------------------------------------------------------------------
# Reference computations (float64)
# --------------------------------------------------------------------------

def loss_on_window(model, x_idx, y_idx, state, V):
    """Forward one (T, B) window; returns (logits, loss, final_state)."""
    x = nn.functional.one_hot(x_idx, V).to(torch.float64)
    logits, state = model(x, state)
    loss = nn.CrossEntropyLoss()(logits.reshape(-1, V), y_idx.reshape(-1))
    return logits, loss, state


def build_cell(cell, vocab, text):
    V = len(vocab)
    index = {c: i for i, c in enumerate(vocab)}
    data = [index[c] for c in text]

    # ---- initial F32 model -------------------------------------------------
    torch.manual_seed(SEED)
    model = CharModel(cell, V, H, L)          # default PyTorch init for the RNN
    bound = 1.0 / math.sqrt(H)
    with torch.no_grad():
        nn.init.uniform_(model.head.weight, -bound, bound)
        nn.init.uniform_(model.head.bias, -bound, bound)
    init_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    names = list(init_state.keys())

    model_meta = {
        "charrnn.format": "1",
        "cell": cell,
        "layers": str(L),
        "hidden": str(H),
        "vocab": json.dumps(vocab, ensure_ascii=False),
    }
    write_safetensors(os.path.join(OUT_DIR, f"{cell}_model.safetensors"),
                      init_state, model_meta)

    # ---- batching ----------------------------------------------------------
    in_streams, tg_streams, n_windows = make_streams(data, B, T)
    assert n_windows >= S, "text too short for S windows"
    ref = {}

    # ---- forward / loss / gradients on window 0 ----------------------------
    m64 = copy.deepcopy(model).double()       # exact widening of the F32 weights
    x0, y0 = window(in_streams, 0, T), window(tg_streams, 0, T)
    logits, loss, _ = loss_on_window(m64, x0, y0, m64.zero_state(B), V)
    m64.zero_grad()
    loss.backward()
    params = dict(m64.named_parameters())

    ref["inputs"] = x0.double()
    ref["targets"] = y0.double()
    ref["logits"] = logits.detach()
    ref["loss"] = loss.detach().reshape(1)
    for n in names:
        ref["grad." + n] = params[n].grad.detach().clone()

    # ---- S steps of Adam with gradient clipping, state carried -------------
    m64 = copy.deepcopy(model).double()
    opt = torch.optim.Adam(m64.parameters(), lr=LR)
    state = m64.zero_state(B)
    xs, ys, losses, norms = [], [], [], []
    for k in range(S):
        w = k % n_windows
        x, y = window(in_streams, w, T), window(tg_streams, w, T)
        opt.zero_grad()
        _, loss, state = loss_on_window(m64, x, y, state, V)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(m64.parameters(), max_norm=CLIP)
        opt.step()
        state = detach_state(state)
        xs.append(x)
        ys.append(y)
        losses.append(loss.item())
        norms.append(float(norm))

    assert losses[0] == ref["loss"].item(), "step-0 loss must equal window-0 loss"
    ref["adam.inputs"] = torch.stack(xs).double()
    ref["adam.targets"] = torch.stack(ys).double()
    ref["adam.losses"] = torch.tensor(losses, dtype=torch.float64)
    final = dict(m64.named_parameters())
    for n in names:
        ref["final." + n] = final[n].detach().clone()

    ref_meta = {
        "cell": cell,
        "layers": str(L),
        "hidden": str(H),
        "batch": str(B),
        "steps": str(T),
        "adam.steps": str(S),
        "adam.lr": repr(LR),
        "adam.clip": repr(CLIP),
        "text": text,
        "torch.version": torch.__version__,
    }
    write_safetensors(os.path.join(OUT_DIR, f"{cell}_reference.safetensors"),
                      ref, ref_meta)

    clipped = sum(n > CLIP for n in norms)
    print(f"{cell}: V={V} windows={n_windows} loss0={losses[0]:.6f} "
          f"lossS={losses[-1]:.6f}")
    print(f"  grad norms: {', '.join(f'{n:.4f}' for n in norms)} "
          f"(clip={CLIP}; clipped on {clipped}/{S} steps)")
    # The fixtures must exercise gradient clipping for every cell.
    assert clipped > 0, f"{cell}: clipping never triggered; choose a smaller CLIP"
    return norms


def main():
    torch.set_num_threads(1)   # deterministic reductions, and be kind to the machine
    os.makedirs(OUT_DIR, exist_ok=True)
    vocab = make_vocab(TEXT)
    print(f"torch {torch.__version__}; text {len(TEXT)} chars; V={len(vocab)}; "
          f"L={L} H={H} B={B} T={T} S={S} lr={LR} clip={CLIP}")
    for cell in CELLS:
        build_cell(cell, vocab, TEXT)
    print(f"wrote fixtures to {OUT_DIR}")


if __name__ == "__main__":
    main()
