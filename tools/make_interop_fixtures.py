#!/usr/bin/python3
"""Generate PyTorch-trained checkpoints and reference outputs for the charrnn interop tests.

The engine fixtures (make_fixtures.py) check single steps against PyTorch. These check the whole
path a user takes: a model trained *in PyTorch*, saved in the layout Checkpoint.cs reads, then
evaluated and sampled by the `charrnn` command line. The C# side must reproduce PyTorch's held-out
loss and its greedy continuation character for character.

For each cell ("lstm", "gru", "rnn") this trains a 2-layer, 32-unit model on the first
TRAIN_CHARS characters of src/Runner/Resources/alice.txt and writes, into
tests/Runner.Tests/Fixtures/interop/ (relative to the repository root):

  heldout.txt              The HELDOUT_CHARS characters after the training text (UTF-8, no BOM).
  {cell}.safetensors       The trained model, F32, with the metadata Checkpoint.Load requires:
                           "charrnn.format", "cell", "layers", "hidden", "vocab".
  lstm_f16.safetensors     The same LSTM with every tensor stored as F16,
  gru_bf16.safetensors     and the same GRU as BF16 (the loader widens both to F32).
  {name}.json              For each of the five files: the held-out loss as `charrnn eval`
                           computes it, and the text `charrnn sample --greedy` prints after the
                           prime, both computed in float64 from exactly the stored weights.

Run from anywhere (needs only the Debian python3-torch package):

    /usr/bin/python3 tools/make_interop_fixtures.py

The output is deterministic: fixed seeds, one thread, and hand-written safetensors.
It takes roughly half a minute of CPU.
"""

import json
import os
import struct

import torch
import torch.nn as nn

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

SEEDS = {"lstm": 1001, "gru": 1002, "rnn": 1003}
CELLS = ("lstm", "gru", "rnn")

TRAIN_CHARS = 20_000
HELDOUT_CHARS = 3_000

L = 2         # layers
H = 32        # hidden size
B = 16        # streams per batch
T = 50        # truncated-BPTT window
STEPS = 480   # Adam steps: 20 epochs of the 24 windows the training text yields
LR = 3e-3
CLIP = 5.0

GREEDY_LENGTH = 200
# The first prime is the one the tests would naturally use. The others are fallbacks for a model
# whose greedy path passes through a near-tie, where float32 rounding in the engine could pick the
# other character and the two continuations would diverge from there on.
PRIMES = ("Alice was ", "The Queen ", "said the ", "Down the ", "\n")
MIN_GAP = 1e-3

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(REPO_ROOT, "src", "Runner", "Resources", "alice.txt")
OUT_DIR = os.path.join(REPO_ROOT, "tests", "Runner.Tests", "Fixtures", "interop")


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class CharModel(nn.Module):
    """Stacked recurrent cell + linear head on one-hot inputs. Time-major: (T, B, V)."""

    def __init__(self, cell, V):
        super().__init__()
        rnn_cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        kwargs = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.cell = cell
        self.V = V
        # Attribute names are the contract: state_dict keys become "lstm.weight_ih_l0", "head.bias",
        # ... which is exactly what ParameterLayout.cs names its tensors.
        setattr(self, cell, rnn_cls(V, H, L, **kwargs))
        self.head = nn.Linear(H, V)

    def forward(self, idx, state=None):
        p = self.head.weight
        x = nn.functional.one_hot(idx, self.V).to(p.dtype)
        out, state = getattr(self, self.cell)(x, state)   # state None = zero state
        return self.head(out), state


def detach_state(state):
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


# --------------------------------------------------------------------------
# Training (float32), batched the way CorpusBatches.cs and Trainer.cs do it
# --------------------------------------------------------------------------

def make_streams(data):
    """B contiguous streams of the trimmed text, targets one character ahead, as (B, n) tensors."""
    n_used = ((len(data) - 1) // (B * T)) * B * T
    per = n_used // B
    x = torch.tensor([data[b * per:(b + 1) * per] for b in range(B)], dtype=torch.long)
    y = torch.tensor([data[b * per + 1:(b + 1) * per + 1] for b in range(B)], dtype=torch.long)
    return x, y, per // T


def train(cell, V, data):
    torch.manual_seed(SEEDS[cell])
    model = CharModel(cell, V)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    xs, ys, windows = make_streams(data)
    state = None
    for step in range(STEPS):
        k = step % windows
        if k == 0:
            state = None   # each epoch restarts every stream from zero state, as Trainer.cs does
        x = xs[:, k * T:(k + 1) * T].t()
        y = ys[:, k * T:(k + 1) * T].t()
        logits, state = model(x, state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=CLIP)
        opt.step()
        state = detach_state(state)
        if (step + 1) % (4 * windows) == 0:
            print(f"  {cell} step {step + 1:4d}: train loss {loss.item():.4f}")
    return model


# --------------------------------------------------------------------------
# safetensors (by hand; see https://github.com/huggingface/safetensors)
# --------------------------------------------------------------------------

# dtype string in the file -> (torch dtype, same-width integer dtype to reinterpret the bits, struct code)
DTYPES = {
    "F32": (torch.float32, torch.int32, "i"),
    "F16": (torch.float16, torch.int16, "h"),
    "BF16": (torch.bfloat16, torch.int16, "h"),
}


def rounded(state_dict, dtype):
    """The tensors rounded (to nearest even, torch's rule) to the storage dtype."""
    return {k: v.detach().to(DTYPES[dtype][0]).contiguous() for k, v in state_dict.items()}


def write_safetensors(path, tensors, metadata, dtype):
    """Write tensors (already in the storage dtype) and str->str metadata.

    The raw bits are packed through a same-width integer view, which works for bfloat16 too
    (struct has no bfloat16 code) and never re-rounds a value.
    """
    _, int_dtype, code = DTYPES[dtype]
    header = {"__metadata__": dict(metadata)}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        bits = t.reshape(-1).view(int_dtype).tolist()
        blob = struct.pack("<%d%s" % (len(bits), code), *bits)
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)   # data section 8-byte aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    """Independent reader, to check that what was written decodes to the reference weights."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    data = raw[8 + n:]
    out = {}
    for name, spec in header.items():
        float_dtype, int_dtype, code = DTYPES[spec["dtype"]]
        b, e = spec["data_offsets"]
        count = (e - b) // struct.calcsize(code)
        bits = torch.tensor(struct.unpack("<%d%s" % (count, code), data[b:e]), dtype=int_dtype)
        out[name] = bits.view(float_dtype).reshape(spec["shape"])
    return meta, out


# --------------------------------------------------------------------------
# References (float64, from exactly the stored weights)
# --------------------------------------------------------------------------

def reference_model(cell, V, stored):
    """float64 model holding the stored values; widening F32/F16/BF16 to F64 is exact."""
    m = CharModel(cell, V)
    m.load_state_dict({k: v.to(torch.float32) for k, v in stored.items()}, strict=True)
    m.double().eval()
    for k, v in m.state_dict().items():
        assert torch.equal(v, stored[k].to(torch.float64)), k
    return m


@torch.no_grad()
def heldout_loss(model, tokens):
    """`charrnn eval`: one stream from zero state, n-1 predictions, mean nats/char.

    Evaluator.cs runs 256-step chunks with the state carried, which is the same computation
    as one pass over the whole text.
    """
    x = torch.tensor(tokens[:-1]).unsqueeze(1)
    y = torch.tensor(tokens[1:])
    logits, _ = model(x)
    return nn.functional.cross_entropy(logits.squeeze(1), y).item()


@torch.no_grad()
def greedy(model, prime_tokens, length):
    """`charrnn sample --greedy`: feed the prime one symbol at a time from zero state, then take
    the argmax and feed it back. Returns the generated indices and the smallest top-1/top-2 gap."""
    state = None
    for t in prime_tokens:
        logits, state = model(torch.tensor([[t]]), state)
    out, min_gap = [], float("inf")
    for _ in range(length):
        row = logits[0, 0]
        top2 = torch.topk(row, 2).values
        min_gap = min(min_gap, (top2[0] - top2[1]).item())
        symbol = int(torch.argmax(row))
        out.append(symbol)
        logits, state = model(torch.tensor([[symbol]]), state)
    return out, min_gap


def write_references(name, cell, V, vocab, stored, heldout_tokens, model_file):
    model = reference_model(cell, V, stored)
    loss = heldout_loss(model, heldout_tokens)
    index = {c: i for i, c in enumerate(vocab)}
    tried = []
    for prime in PRIMES:
        tokens, gap = greedy(model, [index[c] for c in prime], GREEDY_LENGTH)
        tried.append((prime, gap))
        if gap >= MIN_GAP:
            break
    else:
        raise SystemExit(f"{name}: every prime meets a near-tie: {tried}")
    record = {
        "model": model_file,
        "cell": cell,
        "heldout_nats_per_char": loss,   # json writes floats with repr: round-trips exactly
        "prime": prime,
        "length": GREEDY_LENGTH,
        "greedy": "".join(vocab[i] for i in tokens),
        "min_logit_gap": gap,
        "torch_version": str(torch.__version__),
    }
    with open(os.path.join(OUT_DIR, name + ".json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    return loss, prime, gap, tried


def main():
    torch.set_num_threads(1)   # deterministic reductions, and be kind to the machine
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(CORPUS, encoding="utf-8") as f:
        text = f.read()
    # The whole file's alphabet, so every held-out character is encodable, sorted by code point
    # (Python str elements are code points, matching the engine's runes).
    vocab = sorted(set(text))
    V = len(vocab)
    index = {c: i for i, c in enumerate(vocab)}
    train_text = text[:TRAIN_CHARS]
    heldout = text[TRAIN_CHARS:TRAIN_CHARS + HELDOUT_CHARS]
    assert len(heldout) == HELDOUT_CHARS
    with open(os.path.join(OUT_DIR, "heldout.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(heldout)
    heldout_tokens = [index[c] for c in heldout]
    print(f"torch {torch.__version__}; V={V}; train {len(train_text)} chars, held out "
          f"{len(heldout)}; {L}x{H}, B={B} T={T} steps={STEPS} lr={LR} clip={CLIP}")

    # The engine reads only these keys; nothing else, to mirror a plain PyTorch export.
    def metadata(cell):
        return {"charrnn.format": "1", "cell": cell, "layers": str(L), "hidden": str(H),
                "vocab": json.dumps(vocab, ensure_ascii=False)}

    variants = {"lstm": [("lstm", "F32"), ("lstm_f16", "F16")],
                "gru": [("gru", "F32"), ("gru_bf16", "BF16")],
                "rnn": [("rnn", "F32")]}
    rows = []
    for cell in CELLS:
        trained = train(cell, V, [index[c] for c in train_text]).state_dict()
        for name, dtype in variants[cell]:
            stored = rounded(trained, dtype)
            model_file = name + ".safetensors"
            path = os.path.join(OUT_DIR, model_file)
            write_safetensors(path, stored, metadata(cell), dtype)
            meta, back = read_safetensors(path)
            assert meta == metadata(cell) and list(back) == list(stored)
            assert all(torch.equal(back[k], stored[k]) for k in stored), name
            loss, prime, gap, tried = write_references(name, cell, V, vocab, stored,
                                                       heldout_tokens, model_file)
            assert loss < 3.0, f"{name}: held-out loss {loss:.4f}; the model is barely trained"
            for p, g in tried[:-1]:
                print(f"  {name}: prime {p!r} has min logit gap {g:.2e} < {MIN_GAP}; trying the next")
            rows.append((name, dtype, loss, prime, gap))

    print()
    print(f"{'model':<10} {'dtype':<5} {'held-out nats/char':>18} {'min logit gap':>14}  prime")
    for name, dtype, loss, prime, gap in rows:
        print(f"{name:<10} {dtype:<5} {loss:>18.6f} {gap:>14.6f}  {prime!r}")
    print(f"wrote fixtures to {OUT_DIR}")


if __name__ == "__main__":
    main()
