// Entry point for the benchmark suites: BenchmarkDotNet's switcher, so `--filter '*Gemm*'` picks suites.
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(CharRnn.Perf.GemmBench).Assembly).Run(args);
