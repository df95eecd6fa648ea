using System.Text.Json;

namespace Tally.Ledger;

public enum EntryType
{
    Earn,
    Adjustment,
    Activate,
    Redeem,
    Expire,
    Reversal,
    RedemptionReversal,
    TransferOut,
    TransferIn,
    MergeIn,
    MergeOut,
}

/// <summary>
/// A change to one lot's remaining made by an entry (negative: taken from the lot), so a lot's remaining is
/// always the sum of its refs. An <c>activate</c> entry names its lot with a zero change (remaining stays,
/// only the pending flag clears); any negative ref on it is that lot paying a debt.
/// </summary>
public sealed record LotRef(Guid LotId, long Points);

/// <summary>
/// One immutable ledger row. Every figure of the account is the sum of its column over the entries:
/// balance = Σ Points, pending = Σ PendingPoints, lifetime earned/redeemed/expired = Σ Earned/Redeemed/Expired.
/// </summary>
public sealed record Entry
{
    public required Guid EntryId { get; init; }
    public required Guid CustomerId { get; init; }
    public required string Ledger { get; init; }
    public required EntryType Type { get; init; }
    public string TypeName => Name(Type);

    /// <summary>When the movement took effect: activations and expiries carry their due time even when posted late.</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>Change of the spendable balance.</summary>
    public required long Points { get; init; }

    /// <summary>Change of the pending points.</summary>
    public long PendingPoints { get; init; }
    public required long BalanceAfter { get; init; }
    public required long PendingAfter { get; init; }
    public long Earned { get; init; }
    public long Redeemed { get; init; }
    public long Expired { get; init; }

    /// <summary>A reversal under <c>clamp</c>: the points that were already spent and could not be taken back.</summary>
    public long Unrecovered { get; init; }

    /// <summary>The cause's key; (customer, ledger, MovementKey, Seq) is unique, Seq 0 exists for every movement.</summary>
    public required string MovementKey { get; init; }
    public required int Seq { get; init; }
    public string? EventId { get; init; }
    public string? Rule { get; init; }
    public string? RequestKey { get; init; }
    public string? Reason { get; init; }

    /// <summary>The other customer of a transfer or merge.</summary>
    public Guid? CounterpartyId { get; init; }

    /// <summary>The redeem entry a redemption_reversal gives back.</summary>
    public Guid? ReversesEntryId { get; init; }
    public IReadOnlyList<LotRef> Lots { get; init; } = [];

    public static string Name(EntryType type) => JsonNamingPolicy.SnakeCaseLower.ConvertName(type.ToString());
}
