namespace Tally.Ledger;

/// <summary>
/// What one movement decided for one account; persisting it is a straight mapping: insert
/// <see cref="Entries"/>, insert <see cref="NewLots"/>, update <see cref="ChangedLots"/> (remaining,
/// reversed, pending), insert <see cref="Events"/> into the outbox and write <see cref="Account"/>'s figures
/// to the customer row. <see cref="Account"/> is also the state to chain the next call on.
/// </summary>
public sealed record Posting(
    Account Account,
    IReadOnlyList<Entry> Entries,
    IReadOnlyList<Lot> NewLots,
    IReadOnlyList<Lot> ChangedLots,
    IReadOnlyList<LedgerEvent> Events)
{
    public bool IsEmpty => Entries.Count == 0 && Events.Count == 0;

    /// <summary>
    /// Movements chained on one account (each decided on the previous one's <see cref="Account"/>) as one posting to
    /// persist: every entry and event in order, each lot once in its last state (a lot created by one movement and
    /// changed by a later one is inserted as it ended up).
    /// </summary>
    public static Posting Chain(IReadOnlyList<Posting> postings)
    {
        if (postings.Count == 1) return postings[0];
        var created = new Dictionary<Guid, Lot>();
        var changed = new Dictionary<Guid, Lot>();
        foreach (var p in postings)
        {
            foreach (var lot in p.NewLots) created[lot.LotId] = lot;
            foreach (var lot in p.ChangedLots)
            {
                if (created.ContainsKey(lot.LotId)) created[lot.LotId] = lot;
                else changed[lot.LotId] = lot;
            }
        }

        return new(postings[^1].Account, [.. postings.SelectMany(p => p.Entries)], [.. created.Values], [.. changed.Values],
            [.. postings.SelectMany(p => p.Events)]);
    }
}

/// <summary>Both sides of a transfer or a merge: persist both or neither.</summary>
public sealed record TwoSided(Posting From, Posting To);

public enum Refusal
{
    InsufficientPoints,
    AccountLocked,
    AccountClosed,
    ExceedsAward,
    NothingToReverse,
    SameAccount,
    LedgerMismatch,
    PointsOverflow,
}

/// <summary>A decision that may be refused for an expected business reason (mapped to 409/422 by the API, not thrown).</summary>
public abstract record Decision<T>;

public sealed record Accepted<T>(T Value) : Decision<T>;

public sealed record Refused<T>(Refusal Reason, string Message) : Decision<T>;
