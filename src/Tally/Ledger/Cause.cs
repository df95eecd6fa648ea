namespace Tally.Ledger;

/// <summary>
/// What caused a movement. <see cref="Key"/> is its idempotency key: the core derives every id it creates
/// (entries, lots, events) from it, so a replay yields the very same rows and the storage's unique keys
/// turn it into a no-op.
/// </summary>
public sealed record Cause(string Key, string? EventId = null, string? Rule = null, string? RequestKey = null)
{
    /// <summary>
    /// An outcome of a rule applied to an event; one key per outcome. The key leaves the rule version out,
    /// so reprocessing the event after the rule was edited is still a replay; the entry records "id@version".
    /// </summary>
    public static Cause Event(string eventId, string? ruleId = null, int? ruleVersion = null, int outcome = 0) =>
        new($"event:{eventId}:{ruleId}:{outcome}", eventId, ruleVersion is null ? ruleId : $"{ruleId}@{ruleVersion}");

    /// <summary>An API call carrying an idempotency key (adjustments, transfers, merges, reversals).</summary>
    public static Cause Request(string idempotencyKey, string? eventId = null) =>
        new($"request:{idempotencyKey}", eventId, RequestKey: idempotencyKey);

    /// <summary>Work of the scheduler (expiry, activation, reminders), keyed by what was due.</summary>
    public static Cause Schedule(string what) => new($"schedule:{what}");
}
