using System.Globalization;
using System.Text.Json;
using NodaTime.Text;
using Tally.Calendar;
using Tally.Customers;
using Tally.Events;
using Tally.Scheduling;
using Tally.Storage;

namespace Tally.Ledger;

/// <summary>
/// The settle job of one account, due at its next activation, expiry, expiry reminder or tier period end
/// (reminder included): posts what fell due, records the reminders of the window since the last run, decides
/// the tier, and schedules the next one. Idempotent by state: what was settled is not due again.
/// </summary>
/// <remarks>
/// The scheduler hands over all its due settle jobs at once (the expiry sweep, docs/ledger.md): a round loads a few
/// hundred accounts in two statements, decides each one with the pure core exactly as a single job would, and writes
/// the whole round with a few multi-row statements. A customer's jobs are never split between rounds: settling once
/// settles everything due, and the other jobs of that customer are done with it.
/// </remarks>
public sealed class SettleJobHandler : IBatchJobHandler
{
    /// <summary>Customers per round: a round's statements stay within the engines' parameter limits and a round takes a few ms.</summary>
    public const int RoundSize = 250;

    public string Kind => LedgerStore.SettleJob;

    public async Task RunAsync(ProcessingContext ctx, ScheduledJob job, CancellationToken ct) => await RunManyAsync(ctx, [job], () => false, ct);

    /// <summary>Runs <paramref name="jobs"/>, given in customer order (a customer's jobs together, earliest due first).</summary>
    public async Task<int> RunManyAsync(ProcessingContext ctx, IReadOnlyList<ScheduledJob> jobs, Func<bool> outOfTime, CancellationToken ct)
    {
        var ran = 0;
        while (ran < jobs.Count && (ran == 0 || !outOfTime()))
        {
            var end = ran;
            var customers = 0;
            while (end < jobs.Count && (customers < RoundSize || jobs[end].CustomerId == jobs[end - 1].CustomerId))
            {
                if (end == ran || jobs[end].CustomerId != jobs[end - 1].CustomerId) customers++;
                end++;
            }

            await SettleRoundAsync(ctx, jobs.Skip(ran).Take(end - ran), ct);
            ran = end;
        }

        return ran;
    }

    private static async Task SettleRoundAsync(ProcessingContext ctx, IEnumerable<ScheduledJob> jobs, CancellationToken ct)
    {
        var (c, tx, now) = (ctx.Connection, ctx.Tx, ctx.Now);
        foreach (var tenant in jobs.Where(j => j.CustomerId is not null).GroupBy(j => j.TenantId))
        {
            // A customer's first job names the movement: its key is the cause of every entry and event posted.
            var firstJobs = tenant.GroupBy(j => j.CustomerId!.Value).Select(g => g.First()).ToList();
            var accounts = await LedgerStore.LoadManyAsync(c, tx, tenant.Key, [.. firstJobs.Select(j => j.CustomerId!.Value)], ctx.Db.ForUpdate, ct);
            var (settings, _) = await LedgerStore.SettingsAsync(c, tx, tenant.Key, ct);
            var settled = new List<(LoadedAccount, Posting, IReadOnlyList<LedgerEvent>)>(accounts.Count);
            foreach (var job in firstJobs)
            {
                if (!accounts.TryGetValue(job.CustomerId!.Value, out var loaded) || loaded.Account.IsClosed) continue;
                var posting = Movements.Settle(loaded.Account, settings, Cause.Schedule(job.Key), now);
                var from = loaded.RemindedUntil ?? loaded.CreatedAt;
                settled.Add((loaded, posting, from < now ? History.ExpiryReminders(loaded.Account, settings, from, now) : []));
            }

            await LedgerStore.SaveManyAsync(c, tx, tenant.Key, settled, settings, now, ct);
        }
    }
}

/// <summary>
/// Anniversary and birthday: a Calendar event once a year at the start of the local day in the program
/// timezone (29 February falls on 28 February in other years), then the next year's job.
/// </summary>
public sealed class CalendarJobHandler : IJobHandler
{
    public const string JobKind = "calendar";

    public string Kind => JobKind;

    private sealed record Payload(string Kind, string Origin);

    public async Task RunAsync(ProcessingContext ctx, ScheduledJob job, CancellationToken ct)
    {
        if (job.CustomerId is not { } customerId || job.Payload is null) return;
        var p = JsonSerializer.Deserialize<Payload>(job.Payload, TallyJson.Options)!;
        var customer = await CustomerData.GetAsync(ctx.Connection, ctx.Tx, job.TenantId, customerId, ct);
        if (customer is null) return;
        var (settings, _) = await LedgerStore.SettingsAsync(ctx.Connection, ctx.Tx, job.TenantId, ct);
        var origin = Origin(customer, p.Kind, settings);
        // The profile changed since this was planned (a corrected birthday): the plan for the new date stands instead.
        if (origin is null || origin != p.Origin) return;

        var date = LocalDatePattern.Iso.Parse(origin).Value;
        var years = Anniversaries.YearsSince(date, settings.TimeZone, job.DueAt);
        var id = EventData.DerivedId(job.TenantId, job.Key);
        var body = new CalendarEvent
        {
            EventId = id.ToString(),
            CustomerId = customerId.ToString(),
            NameSpace = p.Kind,
            CreatedAt = job.DueAt,
            Calendar = new CalendarDetail { Kind = p.Kind, YearsSinceJoining = p.Kind == "anniversary" ? years : null },
        };
        await EventData.EnqueueInternalAsync(ctx.Connection, ctx.Tx,
            new NewEvent(job.TenantId, id, customerId, EventType.Calendar, p.Kind, JsonSerializer.Serialize(body, TallyJson.Options), ctx.Now), ct);
        await PlanAsync(ctx, job.TenantId, customer, settings, p.Kind, job.DueAt, ct);
    }

    /// <summary>Schedules the customer's next anniversary and birthday after <paramref name="after"/>; keyed by date, so planning twice plans once.</summary>
    public static async Task PlanAsync(ProcessingContext ctx, Guid tenantId, Customer customer, ProgramSettings settings, string? only, DateTimeOffset after, CancellationToken ct)
    {
        foreach (var kind in new[] { "anniversary", "birthday" })
        {
            if (only is not null && only != kind) continue;
            if (Origin(customer, kind, settings) is not { } origin) continue;
            var next = Anniversaries.Next(LocalDatePattern.Iso.Parse(origin).Value, settings.TimeZone, after);
            var key = $"{JobKind}:{customer.CustomerId:N}:{kind}:{next.Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}";
            await Scheduler.ScheduleAsync(ctx.Connection, ctx.Tx, tenantId, customer.CustomerId, JobKind, key, next.At,
                JsonSerializer.Serialize(new Payload(kind, origin), TallyJson.Options), ct);
        }
    }

    /// <summary>Plans the calendar of up to <paramref name="limit"/> customers not planned yet (new, or whose dates changed); answers how many.</summary>
    public static async Task<int> PlanNewCustomersAsync(ProcessingContext ctx, int limit, CancellationToken ct)
    {
        var todo = new List<(Guid Tenant, Guid Customer)>();
        await using (var cmd = ctx.Connection.Command(
            // A literal, not a parameter: SQLite uses the partial index customers_calendar_unplanned only for a constant.
            $"SELECT tenant_id, customer_id FROM customers WHERE calendar_planned = {(ctx.Db.Kind == StoreKind.Sqlite ? "0" : "FALSE")} LIMIT @n{ctx.Db.ForUpdateSkipLocked}", ctx.Tx))
        {
            await using var r = await cmd.With("@n", limit).ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) todo.Add((r.GetGuidValue(0), r.GetGuidValue(1)));
        }

        foreach (var (tenant, id) in todo)
        {
            var customer = await CustomerData.GetAsync(ctx.Connection, ctx.Tx, tenant, id, ct);
            if (customer is null) continue;
            var (settings, _) = await LedgerStore.SettingsAsync(ctx.Connection, ctx.Tx, tenant, ct);
            await PlanAsync(ctx, tenant, customer, settings, null, ctx.Now, ct);
            // A command per customer: an NpgsqlCommand run again with its parameters cleared and added anew, once Npgsql had
            // auto-prepared it, no longer marked the customer it named, so passes planned the same customers over and over.
            await using var mark = ctx.Connection.Command("UPDATE customers SET calendar_planned = @t WHERE tenant_id = @tenant AND customer_id = @c", ctx.Tx);
            await mark.With("@t", true).With("@tenant", tenant).With("@c", id).ExecuteNonQueryAsync(ct);
        }

        return todo.Count;
    }

    private static string? Origin(Customer c, string kind, ProgramSettings settings) => kind switch
    {
        "anniversary" => LocalDatePattern.Iso.Format(Anniversaries.JoinDate(c.CreatedAt, settings.TimeZone)),
        "birthday" => c.DateOfBirth is { } dob ? dob.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : null,
        _ => null,
    };
}
