namespace Tally.Customers;

/// <summary>A customer as stored: the profile (Tallymarks field names) and the figures Tally keeps for it.</summary>
public sealed record Customer
{
    public required Guid TenantId { get; init; }
    public required Guid CustomerId { get; init; }
    public string? FirstName { get; init; }
    public string? LastName { get; init; }
    public string? DisplayName { get; init; }
    public string? EmailAddress { get; init; }
    public string? MobileNumber { get; init; }
    public string? ContactPhone { get; init; }
    public bool OptinSms { get; init; }
    public bool OptinEmail { get; init; }
    public bool AcceptTerms { get; init; }
    public DateOnly? DateOfBirth { get; init; }
    public string? ExternalReference { get; init; }
    public string? ExternalStatus { get; init; }
    public bool IsAccountLocked { get; init; }
    public IReadOnlyList<Events.KeyValue> Attributes { get; init; } = [];

    /// <summary>The join date: the anniversary date, settable on import.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset ChangedAt { get; init; }

    public IReadOnlyList<string> Segments { get; init; } = [];
    public long PointsBalance { get; init; }
    public long PendingPoints { get; init; }

    /// <summary>Points promised to accepted redemptions that the worker has not applied yet.</summary>
    public long ReservedPoints { get; init; }
    public long LifetimeEarned { get; init; }
    public long LifetimeRedeemed { get; init; }
    public string? Tier { get; init; }
}
