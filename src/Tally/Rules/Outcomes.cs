using System.Text.Json;
using System.Text.Json.Nodes;
using NodaTime;

namespace Tally.Rules;

/// <summary>State shared by the outcomes of one evaluation.</summary>
internal sealed class EvalRun(string voucherSeed)
{
    public string VoucherSeed { get; } = voucherSeed;

    /// <summary>Points decided so far (not pending): templates show the balance after them.</summary>
    public long PointsDecided { get; set; }

    private Dictionary<string, object?>? _data;

    public Dictionary<string, object?> TemplateData(EvalContext ctx, CompiledRule rule)
    {
        _data ??= TemplateModel.Build(ctx);
        var data = new Dictionary<string, object?>(_data, StringComparer.Ordinal)
        {
            ["rule"] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["id"] = rule.RuleId, ["version"] = rule.Version, ["name"] = rule.Document.Name, ["campaign"] = rule.Document.Campaign,
            },
        };
        var points = data["points"] is Dictionary<string, object?> p ? new Dictionary<string, object?>(p, StringComparer.Ordinal) : [];
        if (ctx.Type != RuleEventType.Points) points["balance"] = ctx.Customer.PointsBalance + PointsDecided;
        data["points"] = points;
        return data;
    }
}

/// <summary>The object templates see: {{customer.firstName}}, {{order.total}}, {{points.balance}}, {{event.eventId}}, {{rule.name}}.</summary>
internal static class TemplateModel
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Dictionary<string, object?> Build(EvalContext ctx)
    {
        var body = ctx.Body;
        var c = ctx.Customer;
        var data = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["event"] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["eventId"] = body.EventId, ["customerId"] = body.CustomerId, ["nameSpace"] = body.NameSpace,
                ["reference"] = body.Reference, ["campaign"] = body.Campaign, ["description"] = body.Description,
                ["createdAt"] = ctx.EventTime, ["type"] = JsonNamingPolicy.CamelCase.ConvertName(ctx.Type.ToString()),
            },
            ["nameSpace"] = body.NameSpace,
            ["reference"] = body.Reference,
            ["campaign"] = body.Campaign,
            ["attributes"] = Attributes(body.Attributes),
            ["customer"] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["customerId"] = c.CustomerId, ["firstName"] = c.FirstName, ["lastName"] = c.LastName,
                ["displayName"] = c.DisplayName, ["emailAddress"] = c.EmailAddress, ["mobileNumber"] = c.MobileNumber,
                ["externalReference"] = c.ExternalReference, ["tier"] = c.Tier, ["pointsBalance"] = c.PointsBalance,
                ["yearsSinceJoining"] = ctx.YearsSinceJoining, ["dateOfBirth"] = c.DateOfBirth, ["segments"] = c.Segments,
                ["attributes"] = Attributes(c.Attributes),
            },
            ["points"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["balance"] = c.PointsBalance },
        };
        object? detail = (object?)ctx.Order ?? (object?)ctx.Action ?? (object?)ctx.Transaction
            ?? (object?)ctx.Basket ?? (object?)ctx.Calendar ?? ctx.Points;
        if (detail is not null) data[JsonNamingPolicy.CamelCase.ConvertName(ctx.Type.ToString())] = Plain(JsonSerializer.SerializeToNode(detail, detail.GetType(), Json));
        if (ctx.SpendTotal is { } spend) data["spend"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["total"] = spend };
        return data;
    }

    private static Dictionary<string, object?> Attributes(IReadOnlyList<Events.KeyValue>? attributes)
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var kv in attributes ?? [])
            if (kv.Key is not null) d[kv.Key] = kv.Value;
        return d;
    }

    // Handlebars reads dictionaries by the camelCase names rules use; records would expose PascalCase members.
    private static object? Plain(JsonNode? node) => node switch
    {
        JsonObject o => o.ToDictionary(p => p.Key, p => Plain(p.Value), StringComparer.Ordinal),
        JsonArray a => a.Select(Plain).ToList(),
        JsonValue v when v.TryGetValue<decimal>(out var d) => d,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v => v.ToString(),
        _ => null,
    };
}

internal static class OutcomeCompiler
{
    public static string TypeName(Outcome o) => o switch
    {
        PointsOutcome => "points",
        PointsRateOutcome => "pointsRate",
        SmsOutcome => "sms",
        EmailOutcome => "email",
        SegmentOutcome { Add: true } => "addToSegment",
        SegmentOutcome => "removeFromSegment",
        WebhookOutcome => "webhook",
        TriggerOutcome => "trigger",
        ExpirePointsOutcome => "expirePoints",
        _ => "voucher",
    };

    public static OutcomeStep Compile(CompiledRule rule, Outcome outcome, int index)
    {
        var (id, version, name) = (rule.RuleId, rule.Version, rule.Document.Name);

        switch (outcome)
        {
            case PointsOutcome p:
                return (ctx, run) => Award(run, new PointsDecision
                {
                    RuleId = id, RuleVersion = version, RuleName = name, OutcomeIndex = index, Points = p.Points,
                    ExpiresAfter = Format(p.ExpiresAfter), ExpiresAt = After(ctx.EventTime, p.ExpiresAfter),
                    PendingFor = Format(p.PendingFor), PendingUntil = After(ctx.EventTime, p.PendingFor),
                });
            case PointsRateOutcome r:
                var of = RuleFields.Find(rule.Document.EventType, r.Of)!.Number!;
                return (ctx, run) =>
                {
                    if (of(ctx) is not { } basis) return new(null, $"{r.Of} has no value");
                    if (RateTimes(basis, r) is not { } points) return new(null, $"{r.Of} × rate is more than 10^15 points");
                    return Award(run, new PointsDecision
                    {
                        RuleId = id, RuleVersion = version, RuleName = name, OutcomeIndex = index,
                        Points = points, Basis = basis,
                        ExpiresAfter = Format(r.ExpiresAfter), ExpiresAt = After(ctx.EventTime, r.ExpiresAfter),
                        PendingFor = Format(r.PendingFor), PendingUntil = After(ctx.EventTime, r.PendingFor),
                    });
                };
            case SegmentOutcome s:
                return (_, _) => new(new SegmentDecision { RuleId = id, RuleVersion = version, RuleName = name, OutcomeIndex = index, Segment = s.Segment, Add = s.Add }, null);
            case SmsOutcome sms:
                return (ctx, run) =>
                {
                    if (!ctx.Customer.OptinSms) return new(null, "customer has not opted in to SMS");
                    if (string.IsNullOrWhiteSpace(ctx.Customer.MobileNumber)) return new(null, "customer has no mobile number");
                    var text = Templates.Render(sms.Template, html: false, run.TemplateData(ctx, rule));
                    return new(new SmsDecision { RuleId = id, RuleVersion = version, RuleName = name, OutcomeIndex = index, To = ctx.Customer.MobileNumber, Text = text }, null);
                };
            case EmailOutcome email:
                return (ctx, run) =>
                {
                    if (!ctx.Customer.OptinEmail) return new(null, "customer has not opted in to email");
                    if (string.IsNullOrWhiteSpace(ctx.Customer.EmailAddress)) return new(null, "customer has no email address");
                    var data = run.TemplateData(ctx, rule);
                    return new(new EmailDecision
                    {
                        RuleId = id, RuleVersion = version, RuleName = name, OutcomeIndex = index, To = ctx.Customer.EmailAddress,
                        Subject = Templates.Render(email.Subject, html: false, data), Body = Templates.Render(email.Template, html: true, data),
                    }, null);
                };
            case WebhookOutcome w:
                return (ctx, run) => new(new WebhookDecision
                {
                    RuleId = id, RuleVersion = version, RuleName = name, OutcomeIndex = index, Url = w.Url, Method = w.Method, Headers = w.Headers,
                    Body = w.Body is null ? null : Templates.Render(w.Body, html: false, run.TemplateData(ctx, rule)),
                }, null);
            case TriggerOutcome t:
                return (ctx, _) =>
                {
                    DateTimeOffset? from = t.RelativeTo switch
                    {
                        TriggerRelativeTo.Joined => ctx.Customer.CreatedAt,
                        TriggerRelativeTo.Birthday => NextBirthday(ctx),
                        _ => ctx.EventTime,
                    };
                    if (from is null) return new(null, "customer has no date of birth");
                    return new(new TriggerDecision { RuleId = id, RuleVersion = version, RuleName = name, OutcomeIndex = index, NameSpace = t.NameSpace, DueAt = Periods.Add(from.Value, t.After) }, null);
                };
            case ExpirePointsOutcome e:
                return (ctx, _) => new(new ExpirePointsDecision
                {
                    RuleId = id, RuleVersion = version, RuleName = name, OutcomeIndex = index,
                    OlderThan = Format(e.OlderThan), EarnedBefore = e.OlderThan is { } o ? Periods.Subtract(ctx.EventTime, o) : null,
                }, null);
            case VoucherOutcome v:
                var pattern = v.CodePattern ?? VoucherCode.DefaultPattern;
                var appliesTo = JsonNamingPolicy.CamelCase.ConvertName(v.AppliesTo.ToString());
                return (ctx, run) => new(new VoucherDecision
                {
                    RuleId = id, RuleVersion = version, RuleName = name, OutcomeIndex = index,
                    Code = VoucherCode.Generate(pattern, $"{run.VoucherSeed}|{id}|{index}"),
                    Percent = v.Percent, Amount = v.Amount, AppliesTo = appliesTo,
                    DiscountAmount = ctx.Basket is null ? null : Discount(v, DiscountBase(v.AppliesTo, ctx, rule)),
                }, null);
            default:
                throw new ArgumentOutOfRangeException(nameof(outcome));
        }
    }

    private static OutcomeResult Award(EvalRun run, PointsDecision decision)
    {
        if (decision.PendingFor is null) run.PointsDecided += decision.Points;
        return new(decision, null);
    }

    /// <summary>The points a rate gives for <paramref name="basis"/>, or null when that is more than one movement may carry.</summary>
    internal static long? RateTimes(decimal basis, PointsRateOutcome r)
    {
        try
        {
            var points = Round(basis / r.Per * r.Rate, r.Rounding);
            return Math.Abs(points) <= Ledger.Movements.MaxPoints ? points : null;
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    /// <summary>down and up are toward and away from zero; nearest rounds halves away from zero.</summary>
    internal static long Round(decimal points, Rounding rounding) => (long)(rounding switch
    {
        Rounding.Down => decimal.Truncate(points),
        Rounding.Up => points >= 0 ? decimal.Ceiling(points) : decimal.Floor(points),
        _ => decimal.Round(points, MidpointRounding.AwayFromZero),
    });

    /// <summary>What a basket voucher discounts: goods (total less shipping), shipping, or the matched lines.</summary>
    internal static decimal DiscountBase(VoucherAppliesTo appliesTo, EvalContext ctx, CompiledRule rule)
    {
        var basket = ctx.Basket!;
        var value = appliesTo switch
        {
            VoucherAppliesTo.Shipping => basket.ShippingTotal ?? 0m,
            VoucherAppliesTo.Items => rule.DiscountedLines(ctx).Sum(l => l.LineTotal),
            _ => (basket.BasketTotal ?? ctx.Lines.Sum(l => l.LineTotal)) - (basket.ShippingTotal ?? 0m),
        };
        return Math.Max(0m, value);
    }

    /// <summary>Percent discounts round to cents, halves away from zero; neither kind exceeds what it applies to.</summary>
    internal static decimal Discount(VoucherOutcome v, decimal baseAmount) =>
        v.Percent is { } p
            ? Math.Min(baseAmount, decimal.Round(baseAmount * p / 100m, 2, MidpointRounding.AwayFromZero))
            : Math.Min(baseAmount, v.Amount ?? 0m);

    private static DateTimeOffset? NextBirthday(EvalContext ctx)
    {
        if (ctx.Customer.DateOfBirth is not { } dob) return null;
        var born = LocalDate.FromDateOnly(dob);
        var today = LocalDate.FromDateTime(ctx.EventTime.UtcDateTime);
        // PlusYears keeps 29 February births on 28 February in other years.
        var next = born.PlusYears(today.Year - born.Year);
        if (next < today) next = born.PlusYears(today.Year - born.Year + 1);
        return next.AtMidnight().InUtc().ToDateTimeOffset();
    }

    private static string? Format(Period? p) => p is null ? null : Periods.Format(p);

    private static DateTimeOffset? After(DateTimeOffset at, Period? p) => p is null ? null : Periods.Add(at, p);
}
