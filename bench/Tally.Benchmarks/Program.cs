using BenchmarkDotNet.Running;

if (args is ["expiry", .. var rest])
{
    await Tally.Benchmarks.Ledger.ExpiryBench.RunAsync(rest);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Tally.Benchmarks.Rules.EvaluationBenchmarks).Assembly).Run(args);
