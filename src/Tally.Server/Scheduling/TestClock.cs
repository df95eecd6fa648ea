namespace Tally.Server.Scheduling;

/// <summary>
/// The server's clock when TALLY_TEST_CLOCK=true: real time plus an offset that only moves forward, so a
/// test can jump a month and see everything that fell due run (ledger.md "The test clock").
/// </summary>
public sealed class TestClock : TimeProvider
{
    private long offsetTicks;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref offsetTicks));

    /// <summary>Moves the clock to <paramref name="target"/> if it is later than now; answers the new now.</summary>
    public DateTimeOffset MoveTo(DateTimeOffset target)
    {
        lock (this)
        {
            var gap = target - GetUtcNow();
            if (gap > TimeSpan.Zero) Interlocked.Add(ref offsetTicks, gap.Ticks);
            return GetUtcNow();
        }
    }
}
