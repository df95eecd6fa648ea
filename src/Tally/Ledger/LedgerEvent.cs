using System.Text.Json;

namespace Tally.Ledger;

/// <summary>The loyalty events of the seed list (004_…) that the ledger and tiers produce.</summary>
public enum LoyaltyEventType
{
    PointsIssued,
    PointsRedeemed,
    PointsExpired,
    PointsExpiryReminder,
    PromisedToCurrentPointsConversion,
    IssuedPointsReversed,
    RedeemedPointsReversed,
    PointsTransferredInitiated,
    PointsTransferredReceived,
    ManualPointsAdjustment,
    LoyaltyCustomerMerge,
    TierUpgraded,
    TierDowngraded,
    TierRenewed,
    TierDowngradeReminder,
}

/// <summary>
/// A domain event for the outbox, written in the same transaction as the entries. The fields are the
/// webhook's <c>data</c> (notifications.md); <see cref="EventId"/> is deterministic, so it doubles as the
/// <c>webhook-id</c> receivers deduplicate by.
/// </summary>
public sealed record LedgerEvent
{
    public required Guid EventId { get; init; }
    /// <summary>Kept in the outbox's <c>data</c> by its name (<see cref="TypeName"/>), never as a number.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public required LoyaltyEventType Type { get; init; }

    [System.Text.Json.Serialization.JsonPropertyName("type")]
    public string TypeName => JsonNamingPolicy.CamelCase.ConvertName(Type.ToString());
    public required Guid CustomerId { get; init; }
    public string Ledger { get; init; } = Account.MainLedger;
    public required DateTimeOffset At { get; init; }
    public long Points { get; init; }
    public long BalanceAfter { get; init; }

    /// <summary>A reversal under <c>clamp</c>: the points already spent that could not be taken back.</summary>
    public long Unrecovered { get; init; }
    public string? TierFrom { get; init; }
    public string? TierTo { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public string? Rule { get; init; }
    public string? CausingEventId { get; init; }
    public string? RequestKey { get; init; }
    public Guid? CounterpartyId { get; init; }
    public string? Reason { get; init; }
}
