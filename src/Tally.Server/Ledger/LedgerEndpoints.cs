using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tally.Customers;
using Tally.Events;
using Tally.Ledger;
using Tally.Server.Customers;
using Tally.Server.Http;
using Tally.Storage;

namespace Tally.Server.Ledger;

public sealed record BalanceView(
    long Balance, long Pending, long Reserved, long LifetimeEarned, long LifetimeRedeemed, long Expired, IReadOnlyList<ExpiringPoints> Expiring,
    string? Tier, string? NextTier, decimal? PointsToNextTier, DateTimeOffset AsOf);

public sealed record ActivityView(Guid Id, string Type, string Ledger, Guid CustomerId, DateTimeOffset CreatedAt, DateTimeOffset? DeliveredAt, JsonElement Data);

public sealed record TransferRequest(string? ToCustomerId, long? Points, string? Reason);

public sealed record MergeRequest(string? FromCustomerId);

public sealed record ReversalRequest(long? Points, string? Reason);

public sealed record SideView(Guid CustomerId, long Balance);

public sealed record TransferView(Guid FromCustomerId, Guid ToCustomerId, long Points, SideView From, SideView To, bool IsExisting);

public sealed record MergeView(Guid CustomerId, Guid FromCustomerId, long PointsMoved, long Balance, bool IsExisting);

public sealed record ReversalView(Guid EventId, Guid CustomerId, string Type, long Points, long Unrecovered, long Balance, bool IsExisting);

/// <summary>The ledger's HTTP surface (shared/contracts/ledger.md): program, balance, activity, transfers, merges, reversals.</summary>
public static class LedgerEndpoints
{
    public static void MapLedger(this IEndpointRouteBuilder app)
    {
        var program = app.MapGroup("/api/v1/program").WithTags("Program");
        program.MapGet("/", GetProgram).WithName("GetProgram").WithSummary("The tenant's program: timezone, expiry, pending, tiers, reminders.");
        program.MapPut("/", PutProgram).WithName("PutProgram").WithSummary("Replace the program; invalid settings are a 400 naming each bad field.");

        var customers = app.MapGroup("/api/v1/customers").WithTags("Ledger");
        customers.MapGet("/{customerId}/balance", Balance).WithName("GetBalance")
            .WithSummary("Balance, pending, lifetime figures, points expiring soon, tier and next tier; asOf answers as the ledger stood then.");
        customers.MapGet("/{customerId}/activity", Activity).WithName("ListActivity").WithSummary("Loyalty events (the outbox), newest first.");
        customers.MapPost("/{customerId}/transfers", Transfer).WithName("TransferPoints")
            .WithSummary("Move points to another customer: both sides or neither. Send Idempotency-Key to make retries safe.");
        customers.MapPost("/{customerId}/merge", Merge).WithName("MergeCustomer")
            .WithSummary("Merge fromCustomerId into this customer: balance, lots and lifetime figures move; the source closes.");

        app.MapPost("/api/v1/events/{eventId}/reversal", Reverse).WithTags("Ledger").WithName("ReverseEvent")
            .WithSummary("Reverse an award (all or points of it, e.g. a refund) or give back a redemption. Send Idempotency-Key.");
    }

    private static async Task<ContentHttpResult> GetProgram(HttpContext http, Database db, CancellationToken ct)
    {
        var tenantId = http.Caller().TenantId;
        var (settings, _) = await db.ReadAsync(c => LedgerStore.SettingsAsync(c, null, tenantId, ct), ct);
        return TypedResults.Content(settings.ToJson(), "application/json");
    }

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> PutProgram(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<JsonElement>(http.Request, MaxBody(services), ct);
        if (body.Problem is not null) return body.Problem;
        var parsed = ProgramSettings.Parse(body.Raw);
        if (!parsed.IsValid) return Problems.Validation(parsed.Errors.Select(e => new FieldError(e.Path, e.Message)).ToList());

        var tenantId = http.Caller().TenantId;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        await services.GetRequiredService<WriteQueue>().WriteAsync(
            (c, tx) => LedgerStore.SaveSettingsAsync(c, tx, tenantId, parsed.Settings!, now, CancellationToken.None), ct);
        return TypedResults.Content(parsed.Settings!.ToJson(), "application/json");
    }

    private static async Task<Results<Ok<BalanceView>, ProblemHttpResult>> Balance(
        string customerId, string? asOf, HttpContext http, Database db, TimeProvider clock, CancellationToken ct)
    {
        if (!TryId(customerId, "customerId", out var id, out var bad)) return bad;
        var now = clock.GetUtcNow();
        DateTimeOffset? at = null;
        if (!string.IsNullOrEmpty(asOf))
        {
            if (!DateTimeOffset.TryParse(asOf, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
                return Problems.Validation("asOf", $"'{asOf}' is not an ISO 8601 instant.");
            at = parsed;
        }

        var tenantId = http.Caller().TenantId;
        var view = await db.ReadAsync(async c =>
        {
            var (settings, _) = await LedgerStore.SettingsAsync(c, null, tenantId, ct);
            if (at is { } past && past < now)
            {
                // Time travel replays the entries that had taken effect: the figures are their sums, the lots' remaining the
                // sums of their refs (so the expiring list is the one of that instant), the tier the one held then.
                var history = await LedgerStore.HistoryAsync(c, tenantId, id, past, ct);
                var named = history.SelectMany(e => e.Lots).Select(r => r.LotId).ToHashSet();
                if (await LedgerStore.LoadAsync(c, null, tenantId, id, "", ct, named) is not { } withLots) return null;
                if (past < withLots.CreatedAt)
                {
                    // Before the customer existed: nothing, and the first tier still to reach.
                    var (first, need) = Tiers.Next(settings, null, 0);
                    return new BalanceView(0, 0, 0, 0, 0, 0, [], null, first?.Name, need, past);
                }

                var then = History.AccountAsOf(withLots.Account, history, withLots.Account.Lots, past);
                var (tierThen, next, toNext) = await LedgerStore.TierAsOfAsync(c, tenantId, withLots.Tier.Tier, then, settings, past, ct);
                var reserved = await LedgerStore.ReservedAsOfAsync(c, tenantId, id, past, ct);
                return new BalanceView(then.Balance - reserved, then.Pending, reserved, then.LifetimeEarned, then.LifetimeRedeemed, then.LifetimeExpired,
                    History.Expiring(then, settings, past), tierThen, next?.Name, toNext, past);
            }

            // The expiring list looks one reminder period ahead: when nothing of the account falls due before that window
            // ends, no lot can be in it, and the open lots need not be read (O(1) however many a loyal customer holds).
            var loaded = await LedgerStore.LoadLotsIfDueAsync(c, null, tenantId, id, "", settings, settings.Add(now, settings.ExpiryReminderBefore), ct);
            if (loaded is null) return null;

            // "Now" reads the figures cached on the customer row: O(1) in the length of the history.
            var tier = await LedgerStore.DecideTierAsync(c, null, tenantId, loaded.Tier, loaded.Account, settings, now, ct);
            var a = loaded.Account;
            return new BalanceView(a.Balance - loaded.Reserved, a.Pending, loaded.Reserved, a.LifetimeEarned, a.LifetimeRedeemed, a.LifetimeExpired,
                History.Expiring(a, settings, now), loaded.Tier.Tier, tier.NextTier?.Name, tier.ToNextTier, now);
        }, ct);
        return view is null ? Problems.NotFound($"Customer {id}") : TypedResults.Ok(view);
    }

    private static async Task<Results<Ok<PageView<ActivityView>>, ProblemHttpResult>> Activity(
        string customerId, int? limit, string? cursor, HttpContext http, Database db, CancellationToken ct)
    {
        if (!TryId(customerId, "customerId", out var id, out var bad)) return bad;
        var n = limit ?? 50;
        if (n is < 1 or > 500) return Problems.Validation("limit", "Between 1 and 500.");
        long before = long.MaxValue;
        if (!string.IsNullOrEmpty(cursor) && !long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out before))
            return Problems.Validation("cursor", "Not a cursor this API returned.");
        var tenantId = http.Caller().TenantId;
        var page = await db.ReadAsync(async c =>
        {
            if (await CustomerData.GetAsync(c, null, tenantId, id, ct) is null) return null; // the row, not the lots
            await using var cmd = c.Command(
                "SELECT seq, event_id, type, ledger, customer_id, created_at, delivered_at, data FROM activity WHERE tenant_id = @t AND customer_id = @c AND seq < @b ORDER BY seq DESC LIMIT @n");
            await using var r = await cmd.With("@t", tenantId).With("@c", id).With("@b", before).With("@n", n + 1).ExecuteReaderAsync(ct);
            var items = new List<(long Seq, ActivityView View)>();
            while (await r.ReadAsync(ct))
            {
                items.Add((r.GetInt64(0), new ActivityView(r.GetGuidValue(1), r.GetString(2), r.GetString(3), r.GetGuidValue(4), r.GetInstant(5),
                    r.GetInstantOrNull(6), JsonSerializer.Deserialize<JsonElement>(r.GetString(7)))));
            }

            return Page<(long Seq, ActivityView View)>.Of(items, n, x => x.Seq);
        }, ct);
        return page is null ? Problems.NotFound($"Customer {id}")
            : TypedResults.Ok(new PageView<ActivityView>(page.Items.Select(x => x.View).ToList(), page.Next));
    }

    private static async Task<Results<Created<TransferView>, Ok<TransferView>, ProblemHttpResult>> Transfer(string customerId, HttpContext http, CancellationToken ct)
    {
        if (!TryId(customerId, "customerId", out var fromId, out var bad)) return bad;
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<TransferRequest>(http.Request, MaxBody(services), ct);
        if (body.Problem is not null) return body.Problem;
        var request = body.Value!;
        var errors = new List<FieldError>();
        var toId = JsonBody.Uuid(request.ToCustomerId, "$.toCustomerId", required: true, errors);
        if (request.Points is not > 0) errors.Add(new FieldError("$.points", "Required: a whole number of points greater than 0."));
        else if (request.Points > Movements.MaxPoints) errors.Add(new FieldError("$.points", Movements.TooManyPoints));
        if (toId == fromId) errors.Add(new FieldError("$.toCustomerId", "Must be another customer."));
        var cause = RequestCause(http, "transfer", errors);
        if (errors.Count > 0) return Problems.Validation(errors);

        var tenantId = http.Caller().TenantId;
        var db = services.GetRequiredService<Database>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var points = request.Points!.Value;
        var to = toId!.Value;
        var result = await services.GetRequiredService<WriteQueue>().WriteAsync(async (c, tx) =>
        {
            var ct = CancellationToken.None;
            // Both rows locked in id order (uuid text order is PostgreSQL's uuid order), so opposite transfers cannot deadlock.
            var ordered = new[] { fromId, to }.OrderBy(g => g.ToString("D"), StringComparer.Ordinal).ToArray();
            var first = await LedgerStore.LoadAsync(c, tx, tenantId, ordered[0], db.ForUpdate, ct);
            var second = await LedgerStore.LoadAsync(c, tx, tenantId, ordered[1], db.ForUpdate, ct);
            var (from, into) = ordered[0] == fromId ? (first, second) : (second, first);
            if (from is null) return Outcome.Missing(fromId);
            if (into is null) return Outcome.Missing(to);
            if (await LedgerStore.ClaimedByAsync(c, tx, tenantId, cause.Key, ct) is { } owner)
                return owner == fromId ? Outcome.Replay(from.Available, into.Available) : Outcome.KeyTaken();

            var (settings, _) = await LedgerStore.SettingsAsync(c, tx, tenantId, ct);
            var decided = Movements.Transfer(from.Account, into.Account, settings, points, cause, now, request.Reason);
            if (decided is Refused<TwoSided> refused) return Outcome.Refused(refused.Reason, refused.Message, from.Available);
            var both = ((Tally.Ledger.Accepted<TwoSided>)decided).Value;
            if (both.From.Account.Balance < from.Reserved)
                return Outcome.Refused(Refusal.InsufficientPoints, $"{points} points wanted, {Math.Max(0, from.Available)} available.", from.Available);

            await LedgerStore.ClaimAsync(c, tx, tenantId, cause.Key, fromId, now, ct);
            var a = await LedgerStore.SaveAsync(c, tx, tenantId, from, both.From, settings, now, ct);
            var b = await LedgerStore.SaveAsync(c, tx, tenantId, into, both.To, settings, now, ct);
            return Outcome.Done(a.Balance - from.Reserved, b.Balance - into.Reserved);
        }, ct);

        var view = new TransferView(fromId, to, points, new SideView(fromId, result.A), new SideView(to, result.B), result.Kind == OutcomeKind.Replay);
        return result.Kind switch
        {
            OutcomeKind.Done => TypedResults.Created($"/api/v1/customers/{fromId}/ledger", view),
            OutcomeKind.Replay => TypedResults.Ok(view),
            _ => Problem(result),
        };
    }

    private static async Task<Results<Created<MergeView>, Ok<MergeView>, ProblemHttpResult>> Merge(string customerId, HttpContext http, CancellationToken ct)
    {
        if (!TryId(customerId, "customerId", out var targetId, out var bad)) return bad;
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<MergeRequest>(http.Request, MaxBody(services), ct);
        if (body.Problem is not null) return body.Problem;
        var errors = new List<FieldError>();
        var sourceId = JsonBody.Uuid(body.Value!.FromCustomerId, "$.fromCustomerId", required: true, errors);
        if (sourceId == targetId) errors.Add(new FieldError("$.fromCustomerId", "Must be another customer."));
        if (errors.Count > 0) return Problems.Validation(errors);
        var source = sourceId!.Value;
        // Without a key a merge is still idempotent: the pair names it, and a closed source cannot merge twice.
        var key = http.Request.Headers["Idempotency-Key"].ToString();
        var cause = Cause.Request(key.Length > 0 ? key : $"merge:{source:N}:{targetId:N}");

        var tenantId = http.Caller().TenantId;
        var db = services.GetRequiredService<Database>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        long moved = 0;
        var result = await services.GetRequiredService<WriteQueue>().WriteAsync(async (c, tx) =>
        {
            var ct = CancellationToken.None;
            var ordered = new[] { source, targetId }.OrderBy(g => g.ToString("D"), StringComparer.Ordinal).ToArray();
            var first = await LedgerStore.LoadAsync(c, tx, tenantId, ordered[0], db.ForUpdate, ct);
            var second = await LedgerStore.LoadAsync(c, tx, tenantId, ordered[1], db.ForUpdate, ct);
            var (from, into) = ordered[0] == source ? (first, second) : (second, first);
            if (from is null) return Outcome.Missing(source);
            if (into is null) return Outcome.Missing(targetId);
            if (await LedgerStore.ClaimedByAsync(c, tx, tenantId, cause.Key, ct) is { } owner)
                return owner == targetId ? Outcome.Replay(0, into.Available) : Outcome.KeyTaken();
            if (from.Reserved > 0)
                return new Outcome(OutcomeKind.Refused, Message: $"Customer {source} has redemptions not yet applied; merge after they are.", Code: "redemptions_pending");

            var (settings, _) = await LedgerStore.SettingsAsync(c, tx, tenantId, ct);
            var decided = Movements.Merge(into.Account, from.Account, settings, cause, now);
            if (decided is Refused<TwoSided> refused) return Outcome.Refused(refused.Reason, refused.Message, 0);
            var both = ((Tally.Ledger.Accepted<TwoSided>)decided).Value;
            moved = both.To.Entries.Where(e => e.Type == EntryType.MergeIn).Sum(e => e.Points);
            await LedgerStore.ClaimAsync(c, tx, tenantId, cause.Key, targetId, now, ct);
            await LedgerStore.SaveAsync(c, tx, tenantId, from, both.From, settings, now, ct);
            var b = await LedgerStore.SaveAsync(c, tx, tenantId, into, both.To, settings, now, ct);
            return Outcome.Done(0, b.Balance - into.Reserved);
        }, ct);

        var view = new MergeView(targetId, source, moved, result.B, result.Kind == OutcomeKind.Replay);
        return result.Kind switch
        {
            OutcomeKind.Done => TypedResults.Created($"/api/v1/customers/{targetId}/ledger", view),
            OutcomeKind.Replay => TypedResults.Ok(view),
            _ => Problem(result),
        };
    }

    private static async Task<Results<Created<ReversalView>, Ok<ReversalView>, ProblemHttpResult>> Reverse(string eventId, HttpContext http, CancellationToken ct)
    {
        if (!TryId(eventId, "eventId", out var id, out var bad)) return bad;
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<ReversalRequest>(http.Request, MaxBody(services), ct);
        if (body.Problem is not null) return body.Problem;
        var request = body.Value!;
        var errors = new List<FieldError>();
        if (request.Points is <= 0) errors.Add(new FieldError("$.points", "A whole number of points greater than 0, or omitted for all."));
        var cause = RequestCause(http, "reversal", errors) with { EventId = id.ToString() };
        if (errors.Count > 0) return Problems.Validation(errors);

        var tenantId = http.Caller().TenantId;
        var db = services.GetRequiredService<Database>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        Guid customer = Guid.Empty;
        string type = "reversal";
        long reversed = 0, unrecovered = 0;
        var result = await services.GetRequiredService<WriteQueue>().WriteAsync(async (c, tx) =>
        {
            var ct = CancellationToken.None;
            if (await EventData.FindAsync(c, tx, tenantId, id, ct) is not { } found) return Outcome.Missing(id, "Event");
            customer = found.Event.CustomerId;
            var isRedemption = found.Event.Type == EventType.Redemption;
            type = isRedemption ? "redemption_reversal" : "reversal";
            var (redeem, earlier) = isRedemption ? await LedgerStore.RedemptionAsync(c, tx, tenantId, customer, id, ct) : (null, []);
            var lots = isRedemption ? redeem?.Lots.Select(r => r.LotId).ToList() ?? [] : await LedgerStore.AwardLotsAsync(c, tx, tenantId, customer, id.ToString(), ct);
            var loaded = await LedgerStore.LoadAsync(c, tx, tenantId, customer, db.ForUpdate, ct, lots);
            if (loaded is null) return Outcome.Missing(customer);
            if (await LedgerStore.ClaimedByAsync(c, tx, tenantId, cause.Key, ct) is { } owner)
                return owner == customer ? Outcome.Replay(0, loaded.Available) : Outcome.KeyTaken();

            var (settings, _) = await LedgerStore.SettingsAsync(c, tx, tenantId, ct);
            Decision<Posting> decided;
            if (isRedemption)
            {
                if (redeem is null) return Outcome.Refused(Refusal.NothingToReverse, "The redemption has not been applied yet (or spent nothing).", 0);
                decided = Movements.ReverseRedemption(loaded.Account, settings, redeem, earlier, request.Points, cause, now, request.Reason);
            }
            else
            {
                if (lots.Count == 0) return Outcome.Refused(Refusal.NothingToReverse, $"Event {id} awarded no points.", 0);
                decided = Movements.ReverseAward(loaded.Account, settings, lots, request.Points, cause, now, request.Reason);
            }

            if (decided is Refused<Posting> refused) return Outcome.Refused(refused.Reason, refused.Message, 0);
            var posting = ((Tally.Ledger.Accepted<Posting>)decided).Value;
            var main = posting.Entries.First(e => e.Type is EntryType.Reversal or EntryType.RedemptionReversal);
            reversed = isRedemption ? main.Points : -main.Earned;
            unrecovered = main.Unrecovered;
            await LedgerStore.ClaimAsync(c, tx, tenantId, cause.Key, customer, now, ct);
            var saved = await LedgerStore.SaveAsync(c, tx, tenantId, loaded, posting, settings, now, ct);
            return Outcome.Done(0, saved.Balance - loaded.Reserved);
        }, ct);

        var view = new ReversalView(id, customer, type, reversed, unrecovered, result.B, result.Kind == OutcomeKind.Replay);
        return result.Kind switch
        {
            OutcomeKind.Done => TypedResults.Created($"/api/v1/customers/{customer}/ledger", view),
            OutcomeKind.Replay => TypedResults.Ok(view),
            _ => Problem(result),
        };
    }

    private enum OutcomeKind
    {
        Done,
        Replay,
        Missing,
        KeyTaken,
        Refused,
    }

    private sealed record Outcome(OutcomeKind Kind, long A = 0, long B = 0, string? Message = null, Refusal? Reason = null, long Available = 0, string? Code = null)
    {
        public static Outcome Done(long a, long b) => new(OutcomeKind.Done, a, b);

        public static Outcome Replay(long a, long b) => new(OutcomeKind.Replay, a, b);

        public static Outcome Missing(Guid id, string what = "Customer") => new(OutcomeKind.Missing, Message: $"{what} {id}");

        public static Outcome KeyTaken() => new(OutcomeKind.KeyTaken, Message: "This Idempotency-Key was already used for another movement.");

        public static Outcome Refused(Refusal reason, string message, long available) => new(OutcomeKind.Refused, Message: message, Reason: reason, Available: available);
    }

    private static ProblemHttpResult Problem(Outcome o) => o.Kind switch
    {
        OutcomeKind.Missing => Problems.NotFound(o.Message!),
        OutcomeKind.KeyTaken => Problems.Conflict(o.Message!),
        _ when o.Code is { } code => Problems.Problem(StatusCodes.Status409Conflict, code, "Not now.", o.Message!),
        _ => o.Reason switch
        {
            Refusal.InsufficientPoints => Problems.Unprocessable("insufficient_points", "Not enough points.", o.Message!,
                new Dictionary<string, object?> { ["availableBalance"] = Math.Max(0, o.Available) }),
            Refusal.AccountLocked => Problems.Unprocessable("account_locked", "The account is locked.", o.Message!),
            Refusal.AccountClosed => Problems.Unprocessable("account_closed", "The account is closed.", o.Message!),
            Refusal.ExceedsAward => Problems.Unprocessable("exceeds_award", "More than is left to reverse.", o.Message!),
            Refusal.NothingToReverse => Problems.Problem(StatusCodes.Status409Conflict, "nothing_to_reverse", "Nothing to reverse.", o.Message!),
            Refusal.PointsOverflow => Problems.Unprocessable("points_overflow", "Too many points.", o.Message!),
            _ => Problems.Unprocessable("refused", "Refused.", o.Message!),
        },
    };

    /// <summary>The movement's cause: the Idempotency-Key when sent (retries are then safe), otherwise a fresh key.</summary>
    private static Cause RequestCause(HttpContext http, string what, List<FieldError> errors)
    {
        var key = http.Request.Headers["Idempotency-Key"].ToString();
        if (key.Length > 200) errors.Add(new FieldError("Idempotency-Key", "At most 200 characters."));
        return Cause.Request(key.Length > 0 ? key : $"{what}:{Guid.CreateVersion7()}");
    }

    private static int MaxBody(IServiceProvider services) => services.GetRequiredService<IOptions<TallyOptions>>().Value.MaxBodyBytes;

    private static bool TryId(string value, string name, out Guid id, out ProblemHttpResult problem)
    {
        problem = null!;
        if (Guid.TryParse(value, out id)) return true;
        problem = Problems.Validation(name, $"'{value}' is not a UUID.");
        return false;
    }
}
