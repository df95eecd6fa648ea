using System.Data.Common;
using System.Text.Json;
using Tally.Events;
using Tally.Storage;

namespace Tally.Customers;

/// <summary>The editable part of a customer (what PUT replaces and PATCH merges into).</summary>
public sealed record CustomerProfile
{
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
    public IReadOnlyList<KeyValue> Attributes { get; init; } = [];
    public DateTimeOffset? CreatedAt { get; init; }

    public static CustomerProfile Of(Customer c) => new()
    {
        FirstName = c.FirstName, LastName = c.LastName, DisplayName = c.DisplayName, EmailAddress = c.EmailAddress,
        MobileNumber = c.MobileNumber, ContactPhone = c.ContactPhone, OptinSms = c.OptinSms, OptinEmail = c.OptinEmail,
        AcceptTerms = c.AcceptTerms, DateOfBirth = c.DateOfBirth, ExternalReference = c.ExternalReference,
        ExternalStatus = c.ExternalStatus, Attributes = c.Attributes, CreatedAt = c.CreatedAt,
    };
}

/// <summary>Why a profile write was refused: a unique field already belongs to another customer.</summary>
public enum ProfileConflict
{
    None,
    EmailAddress,
    ExternalReference,
}

/// <summary>Reads and writes of the customers table.</summary>
public static class CustomerData
{
    private const string Columns =
        "tenant_id, customer_id, first_name, last_name, display_name, email_address, mobile_number, contact_phone, " +
        "optin_sms, optin_email, accept_terms, date_of_birth, external_reference, external_status, is_locked, attributes, " +
        "created_at, changed_at, points_balance, pending_points, reserved_points, lifetime_earned, lifetime_redeemed, tier";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <param name="lockClause">Database.ForUpdate when the row is about to change under a business check.</param>
    public static async Task<Customer?> GetAsync(DbConnection c, DbTransaction? tx, Guid tenantId, Guid customerId, CancellationToken ct, string lockClause = "")
    {
        var cmd = c.Hot($"SELECT {Columns} FROM customers WHERE tenant_id = @t AND customer_id = @c{lockClause}", tx);
        await using var r = await cmd.With("@t", tenantId).With("@c", customerId).ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    public static async Task<Customer?> FindByExternalReferenceAsync(DbConnection c, Guid tenantId, string externalReference, CancellationToken ct)
    {
        await using var cmd = c.Command($"SELECT {Columns} FROM customers WHERE tenant_id = @t AND external_reference = @r");
        await using var r = await cmd.With("@t", tenantId).With("@r", externalReference).ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    private static Customer Read(DbDataReader r) => new()
    {
        TenantId = r.GetGuidValue(0),
        CustomerId = r.GetGuidValue(1),
        FirstName = r.GetStringOrNull(2),
        LastName = r.GetStringOrNull(3),
        DisplayName = r.GetStringOrNull(4),
        EmailAddress = r.GetStringOrNull(5),
        MobileNumber = r.GetStringOrNull(6),
        ContactPhone = r.GetStringOrNull(7),
        OptinSms = r.GetBool(8),
        OptinEmail = r.GetBool(9),
        AcceptTerms = r.GetBool(10),
        DateOfBirth = r.GetDateOrNull(11),
        ExternalReference = r.GetStringOrNull(12),
        ExternalStatus = r.GetStringOrNull(13),
        IsAccountLocked = r.GetBool(14),
        Attributes = r.IsDBNull(15) ? [] : JsonSerializer.Deserialize<List<KeyValue>>(r.GetString(15), Json) ?? [],
        CreatedAt = r.GetInstant(16),
        ChangedAt = r.GetInstant(17),
        PointsBalance = r.GetInt64(18),
        PendingPoints = r.GetInt64(19),
        ReservedPoints = r.GetInt64(20),
        LifetimeEarned = r.GetInt64(21),
        LifetimeRedeemed = r.GetInt64(22),
        Tier = r.GetStringOrNull(23),
    };

    /// <summary>Creates the customer if it does not exist (events name customers before profiles do). True if created.</summary>
    public static async Task<bool> EnsureAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, DateTimeOffset now, CancellationToken ct)
    {
        var cmd = c.Prepared(
            "INSERT INTO customers (tenant_id, customer_id, created_at, changed_at) VALUES (@t, @c, @now, @now) ON CONFLICT (tenant_id, customer_id) DO NOTHING", tx);
        return await cmd.With("@t", tenantId).With("@c", customerId).With("@now", now).ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Which unique field, if any, another customer of the tenant already holds.</summary>
    public static async Task<ProfileConflict> FindConflictAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, CustomerProfile p, CancellationToken ct)
    {
        if (p.EmailAddress is not null)
        {
            await using var cmd = c.Command("SELECT COUNT(*) FROM customers WHERE tenant_id = @t AND email_key = @e AND customer_id <> @c", tx);
            if (Convert.ToInt64(await cmd.With("@t", tenantId).With("@e", EmailKey(p.EmailAddress)).With("@c", customerId).ExecuteScalarAsync(ct),
                    System.Globalization.CultureInfo.InvariantCulture) > 0)
                return ProfileConflict.EmailAddress;
        }

        if (p.ExternalReference is not null)
        {
            await using var cmd = c.Command("SELECT COUNT(*) FROM customers WHERE tenant_id = @t AND external_reference = @r AND customer_id <> @c", tx);
            if (Convert.ToInt64(await cmd.With("@t", tenantId).With("@r", p.ExternalReference).With("@c", customerId).ExecuteScalarAsync(ct),
                    System.Globalization.CultureInfo.InvariantCulture) > 0)
                return ProfileConflict.ExternalReference;
        }

        return ProfileConflict.None;
    }

    /// <summary>Writes the profile of an existing or new customer (balances are never touched here).</summary>
    public static async Task SaveProfileAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, CustomerProfile p, DateTimeOffset now, CancellationToken ct)
    {
        await EnsureAsync(c, tx, tenantId, customerId, p.CreatedAt ?? now, ct);
        await using var cmd = c.Command(
            """
            UPDATE customers SET first_name = @fn, last_name = @ln, display_name = @dn, email_address = @em, email_key = @ek,
                mobile_number = @mn, contact_phone = @cp, optin_sms = @os, optin_email = @oe, accept_terms = @at,
                date_of_birth = @dob, external_reference = @er, external_status = @es, attributes = @attr,
                created_at = COALESCE(@ca, created_at), changed_at = @now, calendar_planned = @planned
            WHERE tenant_id = @t AND customer_id = @c
            """, tx);
        await cmd.With("@t", tenantId).With("@c", customerId)
            .With("@fn", p.FirstName).With("@ln", p.LastName).With("@dn", p.DisplayName)
            .With("@em", p.EmailAddress).With("@ek", p.EmailAddress is null ? null : EmailKey(p.EmailAddress))
            .With("@mn", p.MobileNumber).With("@cp", p.ContactPhone)
            .With("@os", p.OptinSms).With("@oe", p.OptinEmail).With("@at", p.AcceptTerms)
            .With("@dob", p.DateOfBirth).With("@er", p.ExternalReference).With("@es", p.ExternalStatus)
            .With("@attr", JsonSerializer.Serialize(p.Attributes, Json))
            .With("@ca", p.CreatedAt is { } created ? created.ToUnixTimeMilliseconds() : null)
            .With("@now", now).With("@planned", false) // dates may have changed: the scheduler plans the calendar again
            .ExecuteNonQueryAsync(ct);
    }

    /// <summary>Locks or unlocks the account; false when there is no such customer.</summary>
    public static async Task<bool> SetLockedAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, bool locked, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command("UPDATE customers SET is_locked = @l, changed_at = @now WHERE tenant_id = @t AND customer_id = @c", tx);
        return await cmd.With("@l", locked).With("@now", now).With("@t", tenantId).With("@c", customerId).ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Emails are unique per tenant regardless of case.</summary>
    private static string EmailKey(string email) => email.Trim().ToUpperInvariant();
}
