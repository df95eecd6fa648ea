namespace Tally.Server.Events;

/// <summary>
/// How much the worker's next batch claims and how long it may run. Caught up, batches are short (requests never wait
/// long behind one); behind, each batch that leaves events pending doubles its budget, up to the stretched maximum, since
/// a longer batch spends less per event on its commit and set-up. A batch that ran out of time claimed (read and parsed)
/// events it never reached: the next one claims about what its budget holds instead.
/// </summary>
public readonly record struct BatchPacing(int Claim, TimeSpan Budget)
{
    public static BatchPacing Start(TallyOptions o) => new(o.WorkerBatchSize, o.WorkerBatchBudget);

    /// <summary>The pacing after a batch that handled <paramref name="processed"/> events.</summary>
    public BatchPacing Next(TallyOptions o, int processed, bool morePending, bool outOfTime)
    {
        if (!morePending) return Start(o);
        var maxBudget = o.WorkerBatchBudgetMax > o.WorkerBatchBudget ? o.WorkerBatchBudgetMax : o.WorkerBatchBudget;
        var maxClaim = Math.Max(o.WorkerBatchSizeMax, o.WorkerBatchSize);
        var budget = Budget * 2 < maxBudget ? Budget * 2 : maxBudget;
        var claim = outOfTime
            // What this budget held, scaled to the next one, with a quarter to spare.
            ? (long)(processed * (budget / Budget) * 1.25)
            : 2L * Claim;
        return new((int)Math.Clamp(claim, 16, maxClaim), budget);
    }
}
