using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Tally.Benchmarks.Rules.EvaluationBenchmarks).Assembly).Run(args);
