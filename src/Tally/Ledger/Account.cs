namespace Tally.Ledger;

/// <summary>
/// One customer's points in one ledger, as loaded inside the transaction: the figures cached on the
/// customer row and the lots the movement may touch (the open ones, plus any it names: an award's lots
/// for a reversal, a redemption's lots for a redemption reversal).
/// </summary>
public sealed record Account
{
    public const string MainLedger = "main";

    public required Guid CustomerId { get; init; }
    public string Ledger { get; init; } = MainLedger;

    /// <summary>Spendable points. Below zero only after a reversal under <c>negativeBalance: allow</c> (or a forced adjustment).</summary>
    public long Balance { get; init; }

    /// <summary>Earned points not spendable until their lot's availableAt.</summary>
    public long Pending { get; init; }
    public long LifetimeEarned { get; init; }
    public long LifetimeRedeemed { get; init; }
    public long LifetimeExpired { get; init; }

    /// <summary>The last earn: inactivity expiry counts from it.</summary>
    public DateTimeOffset? LastEarnAt { get; init; }
    public bool IsLocked { get; init; }

    /// <summary>Merged into another customer: nothing may be posted to it any more.</summary>
    public bool IsClosed { get; init; }
    public IReadOnlyList<Lot> Lots { get; init; } = [];

    public static Account Open(Guid customerId, string ledger = MainLedger) => new() { CustomerId = customerId, Ledger = ledger };
}

/// <summary>
/// The points of one earn (or of one transferred/merged slice of an earn), spent down to zero.
/// Invariant kept by <see cref="Movements"/>: the active lots' remaining sums to max(balance, 0) and
/// the pending lots' remaining to pending, so a debt (negative balance) never coexists with spendable lots.
/// </summary>
public sealed record Lot
{
    public required Guid LotId { get; init; }
    public required Guid CustomerId { get; init; }
    public string Ledger { get; init; } = Account.MainLedger;
    public required long Points { get; init; }
    public required long Remaining { get; init; }

    /// <summary>Award points already reversed (refunds), so that no award is reversed beyond what it gave.</summary>
    public long Reversed { get; init; }

    /// <summary>
    /// Points of this lot that expired and that no reversal has accounted for yet: reversing an award
    /// whose points expired takes nothing back for them, they are gone already.
    /// </summary>
    public long Expired { get; init; }
    public required DateTimeOffset EarnedAt { get; init; }
    public required DateTimeOffset AvailableAt { get; init; }

    /// <summary>Not spendable yet; the activate entry clears it once availableAt has passed.</summary>
    public bool IsPending { get; init; }

    /// <summary>Aging expiry; null under the other modes or when the outcome said the points never expire.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The movement key that created the lot (an event/rule, a request, a transfer or merge).</summary>
    public required string SourceKey { get; init; }
    public string? SourceEventId { get; init; }

    /// <summary>For a lot received by transfer or merge: the lot it was cut from.</summary>
    public Guid? FromLotId { get; init; }
}
