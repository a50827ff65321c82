#!/usr/bin/python3
"""Side-by-side training throughput: the PyTorch peer against charrnn, in alternating rounds.

This VM's speed drifts by 10-30% from minute to minute, so one run of each says little. Each round runs
the PyTorch peer once and then every engine command once (`bench --workload W --json`), back to back, and
the summary gives each one's median and range, the ratio of the medians and the median of the rounds' own
ratios. The blocks in docs/performance-log.md since session 10 were measured this way. It also puts every
rate against the machine's fp32 FMA peak, which each bench run measures on all cores: PyTorch's rate in the
engine's FLOPs per character (bench's count, the one-hot input counted as a dense product), and the share of
the peak that the issue's target ratio over PyTorch's median would take. Above 100% the target is out of
reach of any fp32 code on this machine, not only of this engine.

    /usr/bin/python3 tools/compare_torch.py --peer ../shared/peers/torch_charlstm.py --workload W1 --rounds 6 \\
        --engine "dotnet src/Runner/bin/Release/net10.0/charrnn.dll" --engine /tmp/aot/charrnn

The peer runs as the README's table says it ran best here: one PyTorch thread, OpenBLAS on two
(`--torch-threads` and `--blas-threads` change that). Standard library only; the peer needs python3-torch.
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

# The training workloads, as the peer script's arguments, and the engine's `bench --seconds`: ten W1
# steps are ~17 s of PyTorch here and sixty W2 steps ~6 s, each longer than its warm-up and the VM's short swings.
# "target": the ratio over PyTorch for the workload.
WORKLOADS = {
    "W1": {"peer": ["--layers", "2", "--hidden", "512", "--seq", "100", "--batch", "64", "--steps", "10"], "seconds": 10, "target": 2.2},
    "W2": {"peer": ["--layers", "2", "--hidden", "128", "--seq", "50", "--batch", "50", "--steps", "60"], "seconds": 8, "target": 3.0},
}


def fail(message, hint):
    print(f"compare_torch: {message}. {hint}", file=sys.stderr)
    sys.exit(2)


def run(command, env=None):
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env)
    except OSError as error:
        fail(f"cannot start `{shlex.join(command)}`: {error.strerror}", "Check the path (a NativeAOT binary must be published first)")
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        # charrnn reports a user error as an "error:" line and a "hint:" line; anything else, its last line
        said = "; ".join(l.strip() for l in lines if l.startswith(("error:", "hint:"))) or (lines or ["(no output)"])[-1]
        fail(f"`{shlex.join(command)}` exited with {result.returncode}: {said}", "Run it alone to see more")
    return result.stdout


def peer_rate(args):
    env = dict(os.environ)
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # let OpenBLAS detect the CPU itself
        env.pop(name, None)
    env["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    out = run([args.python, args.peer, "--corpus", args.corpus, "--threads", str(args.torch_threads),
               "--sample", "1", *WORKLOADS[args.workload]["peer"]], env)
    found = re.search(r"train_chars_per_s=(\d+)", out)
    if not found:
        fail(f"the peer printed no train_chars_per_s: {out.strip()[:200]!r}", "Is --peer torch_charlstm.py?")
    return int(found.group(1))


def engine_run(engine, args):
    """(chars/s, FLOPs per character by bench's count, the FMA peak for the threads it ran on, GFLOP/s) of one bench run."""
    seconds = WORKLOADS[args.workload]["seconds"] if args.seconds is None else args.seconds
    command = [*shlex.split(engine), "bench", "--workload", args.workload, "--seconds", str(seconds), "--json"]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    out = run(command)
    try:
        report = json.loads(out.strip().splitlines()[-1])
        result = report["workloads"][0]
        rate = int(result["chars_per_s"])
        # bench's own share is against the peak for the threads it used (--threads N or all cores): recover that peak.
        return rate, result["gflops"] * 1e9 / rate, result["gflops"] / result["peak_share"]
    except (ValueError, KeyError, IndexError):
        fail(f"`{shlex.join(command)}` printed no bench JSON", "Is --engine a charrnn command?")


def describe(values):
    return f"{statistics.median(values):,.0f} ({min(values):,}-{max(values):,})"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", required=True, help="path of torch_charlstm.py")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="W1")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--engine", action="append", help="a charrnn command (repeatable; default: the JIT build)")
    parser.add_argument("--corpus", default=os.path.join(here, "..", "src", "Runner", "Resources", "alice.txt"))
    parser.add_argument("--seconds", type=float, help="bench --seconds (default: 10 at W1, 8 at W2)")
    parser.add_argument("--threads", type=int, help="bench --threads (default or 0: all cores)")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--blas-threads", type=int, default=2)
    parser.add_argument("--python", default="/usr/bin/python3", help="the interpreter that has torch")
    args = parser.parse_args()
    engines = args.engine or [f"dotnet {os.path.join(here, '..', 'src', 'Runner', 'bin', 'Release', 'net10.0', 'charrnn.dll')}"]
    for name in ("seconds", "torch_threads", "blas_threads"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            fail(f"--{name.replace('_', '-')} must be positive, got {value}", "Leave it out for the default")
    if args.threads is not None and args.threads < 0:
        fail(f"--threads must be 0 (all cores) or more, got {args.threads}", "Leave it out for all cores")
    if args.rounds < 1:
        fail(f"--rounds must be at least 1, got {args.rounds}", "Use six or more: single rounds swing with the VM")
    if not os.path.isfile(args.peer):
        fail(f"no peer script at {args.peer}", "Pass --peer with the path of torch_charlstm.py")
    if not os.path.isfile(args.corpus):
        fail(f"no corpus at {args.corpus}", "Pass --corpus FILE")

    print(f"{args.workload}, {args.rounds} rounds, {time.strftime('%Y-%m-%d %H:%M')}: PyTorch, then {len(engines)} engine command(s)")
    peer, rates, peaks, flops_per_char = [], [[] for _ in engines], [], 0.0
    for round_number in range(1, args.rounds + 1):
        peer.append(peer_rate(args))
        for i, engine in enumerate(engines):
            rate, flops_per_char, peak = engine_run(engine, args)
            rates[i].append(rate)
            peaks.append(peak)
        line = "  ".join(f"{r[-1]:,} ({r[-1] / peer[-1]:.2f}x)" for r in rates)
        print(f"  {time.strftime('%H:%M:%S')} round {round_number}: PyTorch {peer[-1]:,}  engine {line}", flush=True)

    print(f"PyTorch: {describe(peer)} chars/s")
    for engine, r in zip(engines, rates):
        per_round = [e / p for e, p in zip(r, peer)]
        print(f"{engine}: {describe(r)} chars/s; ratio of medians {statistics.median(r) / statistics.median(peer):.2f}x, "
              f"median of rounds {statistics.median(per_round):.2f}x, rounds {min(per_round):.2f}-{max(per_round):.2f}x")

    # The same medians as shares of the peak; the peak is the median of every bench run's own measurement.
    peak = statistics.median(peaks)
    def share(chars_per_s):
        return chars_per_s * flops_per_char / 1e9 / peak
    target = WORKLOADS[args.workload]["target"]
    shares = ", ".join(f"engine {i + 1} {share(statistics.median(r)):.0%}" for i, r in enumerate(rates))
    print(f"Of the fp32 FMA peak ({peak:.1f} GFLOP/s on the engine's threads; {flops_per_char / 1e6:.2f} MFLOP/char): "
          f"PyTorch {share(statistics.median(peer)):.0%}, {shares}; "
          f"{target}x PyTorch's median would take {share(target * statistics.median(peer)):.0%}")


if __name__ == "__main__":
    main()
