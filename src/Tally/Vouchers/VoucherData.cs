using System.Data.Common;
using Tally.Rules;
using Tally.Storage;

namespace Tally.Vouchers;

public sealed record Voucher(
    long Seq, Guid CustomerId, string Code, decimal? Percent, decimal? Amount, string AppliesTo, string Status, Guid RuleId, int RuleVersion,
    Guid EventId, DateTimeOffset IssuedAt);

/// <summary>Vouchers issued to customers by rule outcomes.</summary>
public static class VoucherData
{
    /// <summary>Issues the voucher once per (event, rule, outcome): a replay finds it issued.</summary>
    public static async Task<bool> IssueAsync(DbConnection c, DbTransaction tx, Guid tenantId, Guid customerId, Guid eventId, VoucherDecision v, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = c.Command(
            """
            INSERT INTO vouchers (tenant_id, customer_id, voucher_key, code, percent, amount, applies_to, status, rule_id, rule_version, event_id, issued_at)
            VALUES (@t, @c, @key, @code, @pct, @amt, @to, 'issued', @r, @v, @e, @now)
            ON CONFLICT (tenant_id, voucher_key) DO NOTHING
            """, tx);
        return await cmd.With("@t", tenantId).With("@c", customerId).With("@key", $"{eventId}:{v.RuleId}:{v.OutcomeIndex}").With("@code", v.Code)
            .With("@pct", Money(c, v.Percent)).With("@amt", Money(c, v.Amount)).With("@to", v.AppliesTo).With("@r", Guid.Parse(v.RuleId))
            .With("@v", v.RuleVersion).With("@e", eventId).With("@now", now).ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>{money} is TEXT on SQLite: keep the exact decimal text there.</summary>
    internal static object? Money(DbConnection c, decimal? value) =>
        value is not { } d ? null : c is Microsoft.Data.Sqlite.SqliteConnection ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : d;

    internal static decimal? ReadMoney(DbDataReader r, int i) =>
        r.IsDBNull(i) ? null : r.GetValue(i) switch
        {
            decimal d => d,
            string s => decimal.Parse(s, System.Globalization.CultureInfo.InvariantCulture),
            var other => Convert.ToDecimal(other, System.Globalization.CultureInfo.InvariantCulture),
        };

    public static async Task<Page<Voucher>> ListAsync(DbConnection c, Guid tenantId, Guid customerId, int limit, long? before, CancellationToken ct)
    {
        await using var cmd = c.Command(
            """
            SELECT voucher_seq, customer_id, code, percent, amount, applies_to, status, rule_id, rule_version, event_id, issued_at FROM vouchers
            WHERE tenant_id = @t AND customer_id = @c AND voucher_seq < @before ORDER BY voucher_seq DESC LIMIT @n
            """);
        await using var r = await cmd.With("@t", tenantId).With("@c", customerId).With("@before", before ?? long.MaxValue).With("@n", limit + 1).ExecuteReaderAsync(ct);
        var rows = new List<Voucher>();
        while (await r.ReadAsync(ct))
            rows.Add(new(r.GetInt64(0), r.GetGuidValue(1), r.GetString(2), ReadMoney(r, 3), ReadMoney(r, 4), r.GetString(5), r.GetString(6), r.GetGuidValue(7),
                r.GetInt32(8), r.GetGuidValue(9), r.GetInstant(10)));
        return Page<Voucher>.Of(rows, limit, v => v.Seq);
    }
}
