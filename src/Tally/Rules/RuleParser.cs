using System.Globalization;
using System.Text.Json;
using NodaTime;

namespace Tally.Rules;

public sealed record RuleError(string Path, string Message);

public sealed record RuleParseResult(RuleDocument? Rule, IReadOnlyList<RuleError> Errors)
{
    public bool Valid => Errors.Count == 0;
}

/// <summary>
/// Reads a rule document and reports every problem at once, each with its JSON path
/// ($.conditions.all[1].op). Errors come in document-walk order, so the same document always gives the same list.
/// </summary>
public static class RuleParser
{
    public static RuleParseResult Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return Parse(doc.RootElement);
        }
        catch (JsonException e)
        {
            return new(null, [new("$", $"not valid JSON: {e.Message}")]);
        }
    }

    public static RuleParseResult Parse(JsonElement root)
    {
        var walker = new Walker();
        var rule = walker.Rule(root);
        return walker.Errors.Count == 0 ? new(rule, []) : new(null, walker.Errors);
    }

    internal static readonly Dictionary<string, ConditionOp> Ops = new(StringComparer.Ordinal)
    {
        ["eq"] = ConditionOp.Eq, ["ne"] = ConditionOp.Ne, ["gt"] = ConditionOp.Gt, ["gte"] = ConditionOp.Gte,
        ["lt"] = ConditionOp.Lt, ["lte"] = ConditionOp.Lte, ["in"] = ConditionOp.In, ["notIn"] = ConditionOp.NotIn,
        ["contains"] = ConditionOp.Contains, ["startsWith"] = ConditionOp.StartsWith, ["exists"] = ConditionOp.Exists,
    };

    // Which event types an outcome may follow: the contract's outcome table.
    private static readonly RuleEventType[] Awarding =
        [RuleEventType.Action, RuleEventType.Order, RuleEventType.Transaction, RuleEventType.Spend, RuleEventType.Calendar, RuleEventType.Basket];
    private static readonly RuleEventType[] NotBasket =
        [RuleEventType.Action, RuleEventType.Order, RuleEventType.Transaction, RuleEventType.Spend, RuleEventType.Points, RuleEventType.Calendar];
    private static readonly RuleEventType[] Counted =
        [RuleEventType.Action, RuleEventType.Order, RuleEventType.Transaction, RuleEventType.Spend];
    private static readonly RuleEventType[] Spending = [RuleEventType.Order, RuleEventType.Transaction, RuleEventType.Spend];

    private static readonly Dictionary<string, (RuleEventType[] On, string[] Fields)> OutcomeTypes = new(StringComparer.Ordinal)
    {
        ["points"] = (Awarding, ["points", "expiresAfter", "pendingFor"]),
        ["pointsRate"] = (Awarding, ["rate", "of", "per", "rounding", "expiresAfter", "pendingFor"]),
        ["sms"] = (NotBasket, ["template"]),
        ["email"] = (NotBasket, ["subject", "template"]),
        ["addToSegment"] = (NotBasket, ["segment"]),
        ["removeFromSegment"] = (NotBasket, ["segment"]),
        ["webhook"] = (NotBasket, ["url", "method", "headers", "body"]),
        ["trigger"] = (NotBasket, ["nameSpace", "after", "relativeTo"]),
        ["expirePoints"] = ([RuleEventType.Calendar, RuleEventType.Points], ["olderThan"]),
        ["voucher"] = (Enum.GetValues<RuleEventType>(), ["discount", "appliesTo", "code"]),
    };

    private static readonly string[] ConditionKinds = ["all", "any", "not", "field", "item", "segment", "nth", "everyNth", "repeat", "lifetimeValue"];

    private static string Name(RuleEventType t) => JsonNamingPolicy.CamelCase.ConvertName(t.ToString());

    private sealed class Walker
    {
        public List<RuleError> Errors { get; } = [];
        private RuleEventType? _type;

        private void Error(string path, string message) => Errors.Add(new(path, message));

        public RuleDocument? Rule(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object)
            {
                Error("$", "expected a rule object");
                return null;
            }
            // id and version are what storage returns: a client may send a fetched rule back unchanged.
            Unknown(root, "$", ["name", "description", "eventType", "status", "activeFrom", "activeTo", "priority",
                "stopProcessing", "campaign", "limits", "conditions", "outcomes", "id", "version"]);

            var name = Text(root, "$", "name", required: true);
            var description = Text(root, "$", "description", max: 4_000);
            _type = EnumValue<RuleEventType>(root, "$", "eventType", required: true);
            var status = EnumValue<RuleStatus>(root, "$", "status") ?? RuleStatus.Draft;
            var from = Instant(root, "$", "activeFrom");
            var to = Instant(root, "$", "activeTo");
            if (from is not null && to is not null && to <= from) Error("$.activeTo", "must be after activeFrom");
            var priority = Integer(root, "$", "priority", min: int.MinValue);
            var stop = Flag(root, "$", "stopProcessing");
            var campaign = Text(root, "$", "campaign");
            var limits = Limits(root);

            Condition? conditions = null;
            if (Get(root, "conditions") is { } c) conditions = Condition(c, "$.conditions", line: false);

            var outcomes = new List<Outcome>();
            if (Get(root, "outcomes") is not { } os) Error("$.outcomes", "is required");
            else if (os.ValueKind != JsonValueKind.Array) Error("$.outcomes", "expected an array of outcomes");
            else if (os.GetArrayLength() == 0) Error("$.outcomes", "a rule needs at least one outcome");
            else
            {
                var i = 0;
                foreach (var o in os.EnumerateArray())
                    if (Outcome(o, $"$.outcomes[{i++}]") is { } parsed) outcomes.Add(parsed);
            }

            if (Errors.Count > 0) return null;
            return new RuleDocument
            {
                Name = name!, Description = description, EventType = _type!.Value, Status = status,
                ActiveFrom = from, ActiveTo = to, Priority = (int)(priority ?? 0), StopProcessing = stop ?? false,
                Campaign = campaign, Limits = limits, Conditions = conditions, Outcomes = outcomes,
            };
        }

        private RuleLimits? Limits(JsonElement root)
        {
            if (Get(root, "limits") is not { } l) return null;
            if (l.ValueKind != JsonValueKind.Object)
            {
                Error("$.limits", "expected an object with perCustomer and/or total");
                return null;
            }
            Unknown(l, "$.limits", ["perCustomer", "total"]);
            return new(Integer(l, "$.limits", "perCustomer", min: 1), Integer(l, "$.limits", "total", min: 1));
        }

        private Condition? Condition(JsonElement e, string path, bool line)
        {
            if (e.ValueKind != JsonValueKind.Object)
            {
                Error(path, "expected a condition object");
                return null;
            }
            string? kind = null;
            foreach (var p in e.EnumerateObject())
                if (ConditionKinds.Contains(p.Name, StringComparer.Ordinal)) { kind = p.Name; break; }
            if (kind is null)
            {
                Error(path, $"expected one of {string.Join(", ", line ? ConditionKinds[..4] : ConditionKinds)}");
                return null;
            }
            if (line && !ConditionKinds[..4].Contains(kind, StringComparer.Ordinal))
            {
                Error($"{path}.{kind}", "not allowed inside an item condition");
                return null;
            }
            switch (kind)
            {
                case "all" or "any":
                    Unknown(e, path, [kind]);
                    var list = e.GetProperty(kind);
                    if (list.ValueKind != JsonValueKind.Array)
                    {
                        Error($"{path}.{kind}", "expected an array of conditions");
                        return null;
                    }
                    var items = new List<Condition>();
                    var i = 0;
                    foreach (var child in list.EnumerateArray())
                        if (Condition(child, $"{path}.{kind}[{i++}]", line) is { } parsed) items.Add(parsed);
                    return kind == "all" ? new AllCondition(items) : new AnyCondition(items);
                case "not":
                    Unknown(e, path, ["not"]);
                    return Condition(e.GetProperty("not"), $"{path}.not", line) is { } inner ? new NotCondition(inner) : null;
                case "field":
                    Unknown(e, path, ["field", "op", "value"]);
                    return Field(e, path, line);
                case "item":
                    Unknown(e, path, ["item", "minQuantity", "minAmount"]);
                    if (!Allowed($"{path}.item", "item conditions", [RuleEventType.Order, RuleEventType.Basket])) return null;
                    var item = Condition(e.GetProperty("item"), $"{path}.item", line: true);
                    var minQ = Number(e, path, "minQuantity", min: 0m);
                    var minA = Number(e, path, "minAmount", min: 0m);
                    return item is null ? null : new ItemCondition(item, minQ, minA);
                case "segment":
                    Unknown(e, path, ["segment"]);
                    return Text(e, path, "segment", required: true, max: 200) is { } seg ? new SegmentCondition(seg) : null;
                case "nth" or "everyNth":
                    Unknown(e, path, [kind]);
                    if (!Allowed($"{path}.{kind}", kind, Counted)) return null;
                    return Integer(e, path, kind, min: 1, required: true) is { } n ? new NthCondition(n, kind == "everyNth") : null;
                case "repeat":
                    Unknown(e, path, ["repeat"]);
                    if (!Allowed($"{path}.repeat", "repeat", Counted)) return null;
                    return Repeat(e.GetProperty("repeat"), $"{path}.repeat");
                default:
                    Unknown(e, path, ["lifetimeValue"]);
                    if (!Allowed($"{path}.lifetimeValue", "lifetimeValue", Spending)) return null;
                    return LifetimeValue(e.GetProperty("lifetimeValue"), $"{path}.lifetimeValue");
            }
        }

        private bool Allowed(string path, string what, RuleEventType[] on)
        {
            if (_type is not { } t || on.Contains(t)) return true;
            Error(path, $"{what} is not available on {Name(t)} rules");
            return false;
        }

        private RepeatCondition? Repeat(JsonElement r, string path)
        {
            if (r.ValueKind != JsonValueKind.Object)
            {
                Error(path, "expected {times, within} or {times, since}");
                return null;
            }
            Unknown(r, path, ["times", "within", "since"]);
            var times = Integer(r, path, "times", min: 1, required: true);
            var within = Duration(r, path, "within");
            DateTimeOffset? since = null;
            if (Get(r, "since") is { } s)
            {
                if (s.ValueKind == JsonValueKind.String && DateOnly.TryParseExact(s.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
                    since = new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                else if (s.ValueKind == JsonValueKind.String && s.TryGetDateTimeOffset(out var at)) since = at;
                else Error($"{path}.since", "expected an ISO-8601 date such as 2027-01-01");
            }
            var hasWithin = Get(r, "within") is not null;
            var hasSince = Get(r, "since") is not null;
            if (hasWithin == hasSince) Error(path, "give exactly one of within and since");
            return times is null || (within is null && since is null) ? null : new RepeatCondition(times.Value, within, since);
        }

        private LifetimeValueCondition? LifetimeValue(JsonElement l, string path)
        {
            if (l.ValueKind != JsonValueKind.Object)
            {
                Error(path, "expected {op, value}");
                return null;
            }
            Unknown(l, path, ["op", "value"]);
            var op = Op(l, path);
            if (op is ConditionOp.In or ConditionOp.NotIn or ConditionOp.Contains or ConditionOp.StartsWith or ConditionOp.Exists)
            {
                Error($"{path}.op", "lifetimeValue compares with eq, ne, gt, gte, lt or lte");
                op = null;
            }
            var value = Number(l, path, "value", min: decimal.MinValue, required: true);
            return op is null || value is null ? null : new LifetimeValueCondition(op.Value, value.Value);
        }

        private ConditionOp? Op(JsonElement e, string path)
        {
            if (Get(e, "op") is not { } o)
            {
                Error($"{path}.op", "is required");
                return null;
            }
            if (o.ValueKind == JsonValueKind.String && Ops.TryGetValue(o.GetString()!, out var op)) return op;
            Error($"{path}.op", $"unknown operator {o.GetRawText()}: expected one of {string.Join(", ", Ops.Keys)}");
            return null;
        }

        private FieldCondition? Field(JsonElement e, string path, bool line)
        {
            var fieldPath = Text(e, path, "field", required: true);
            FieldKind? kind = null;
            if (fieldPath is not null)
            {
                kind = line ? RuleFields.FindLine(fieldPath)?.Kind : _type is { } t ? RuleFields.Find(t, fieldPath)?.Kind : FieldKind.Attribute;
                if (kind is null)
                    Error($"{path}.field", line
                        ? $"unknown line field '{fieldPath}': expected sku, productId, vendor, name, category, productType, quantity, itemPrice, totalPrice or attributes.<key>"
                        : $"unknown field '{fieldPath}' for {Name(_type!.Value)} rules");
            }
            var op = Op(e, path);
            if (op is null || kind is null) return null;
            if (!OpApplies(kind.Value, op.Value))
            {
                Error($"{path}.op", $"operator '{Predicates.Name(op.Value)}' does not apply to {KindName(kind.Value)} field '{fieldPath}'");
                return null;
            }
            var value = Value(e, path, kind.Value, op.Value, out var ok);
            return ok ? new FieldCondition(fieldPath!, op.Value, value) : null;
        }

        private static bool OpApplies(FieldKind kind, ConditionOp op) => kind switch
        {
            FieldKind.Number => op is not (ConditionOp.Contains or ConditionOp.StartsWith),
            FieldKind.Flag => op is ConditionOp.Eq or ConditionOp.Ne or ConditionOp.Exists,
            FieldKind.List => op is ConditionOp.Contains or ConditionOp.StartsWith or ConditionOp.In or ConditionOp.NotIn or ConditionOp.Exists,
            _ => true,
        };

        private static string KindName(FieldKind kind) => kind switch
        {
            FieldKind.Number => "number",
            FieldKind.Flag => "boolean",
            FieldKind.List => "list (use contains, startsWith, in, notIn or exists)",
            _ => "text",
        };

        private object? Value(JsonElement e, string path, FieldKind kind, ConditionOp op, out bool ok)
        {
            var vpath = $"{path}.value";
            var v = Get(e, "value");
            ok = true;
            if (op == ConditionOp.Exists)
            {
                if (v is null) return true;
                if (v.Value.ValueKind is JsonValueKind.True or JsonValueKind.False) return v.Value.GetBoolean();
                Error(vpath, "expected true or false");
                ok = false;
                return null;
            }
            if (v is null)
            {
                Error(vpath, "is required");
                ok = false;
                return null;
            }
            if (op is ConditionOp.In or ConditionOp.NotIn)
            {
                if (v.Value.ValueKind != JsonValueKind.Array || v.Value.GetArrayLength() == 0)
                {
                    Error(vpath, "expected a non-empty array");
                    ok = false;
                    return null;
                }
                var values = new List<object>();
                var i = 0;
                foreach (var item in v.Value.EnumerateArray())
                {
                    if (Scalar(item, $"{vpath}[{i++}]", kind, op) is { } s) values.Add(s);
                    else ok = false;
                }
                return values.ToArray();
            }
            var scalar = Scalar(v.Value, vpath, kind, op);
            ok = scalar is not null;
            return scalar;
        }

        private object? Scalar(JsonElement v, string path, FieldKind kind, ConditionOp op)
        {
            var comparison = op is ConditionOp.Gt or ConditionOp.Gte or ConditionOp.Lt or ConditionOp.Lte;
            switch (v.ValueKind)
            {
                case JsonValueKind.Number when kind is FieldKind.Number or FieldKind.Attribute && v.TryGetDecimal(out var d) && op is not (ConditionOp.Contains or ConditionOp.StartsWith):
                    return d;
                case JsonValueKind.String when kind is FieldKind.Text or FieldKind.List or FieldKind.Attribute:
                    return v.GetString()!;
                case JsonValueKind.True or JsonValueKind.False when kind is FieldKind.Flag || (kind == FieldKind.Attribute && op is ConditionOp.Eq or ConditionOp.Ne):
                    return v.GetBoolean();
            }
            Error(path, kind switch
            {
                FieldKind.Number => "expected a number",
                FieldKind.Flag => "expected true or false",
                FieldKind.Attribute when comparison => "expected a number or a string",
                FieldKind.Attribute when op is ConditionOp.Contains or ConditionOp.StartsWith => "expected a string",
                FieldKind.Attribute => "expected a string, number or boolean",
                _ => "expected a string",
            });
            return null;
        }

        private Outcome? Outcome(JsonElement o, string path)
        {
            if (o.ValueKind != JsonValueKind.Object)
            {
                Error(path, "expected an outcome object");
                return null;
            }
            var type = Text(o, path, "type", required: true);
            if (type is null) return null;
            if (!OutcomeTypes.TryGetValue(type, out var spec))
            {
                Error($"{path}.type", $"unknown outcome type '{type}': expected one of {string.Join(", ", OutcomeTypes.Keys)}");
                return null;
            }
            Unknown(o, path, ["type", .. spec.Fields]);
            if (_type is { } t && !spec.On.Contains(t))
            {
                Error($"{path}.type", $"outcome '{type}' is not allowed on {Name(t)} rules");
                return null;
            }
            var errors = Errors.Count;
            Outcome? outcome = type switch
            {
                "points" => Integer(o, path, "points", min: 0, required: true) is { } n && NotTooMany(n, $"{path}.points")
                    ? new PointsOutcome(n, Duration(o, path, "expiresAfter"), Duration(o, path, "pendingFor")) : null,
                "pointsRate" => PointsRate(o, path),
                "sms" => Template(o, path, "template", required: true) is { } s ? new SmsOutcome(s) : null,
                "email" => new EmailOutcome(Template(o, path, "subject", required: true) ?? "", Template(o, path, "template", required: true) ?? ""),
                "addToSegment" or "removeFromSegment" => Text(o, path, "segment", required: true, max: 200) is { } seg
                    ? new SegmentOutcome(seg, type == "addToSegment") : null,
                "webhook" => Webhook(o, path),
                "trigger" => new TriggerOutcome(Text(o, path, "nameSpace", required: true) ?? "",
                    Duration(o, path, "after", required: true) ?? Period.Zero,
                    EnumValue<TriggerRelativeTo>(o, path, "relativeTo") ?? TriggerRelativeTo.Event),
                "expirePoints" => new ExpirePointsOutcome(Duration(o, path, "olderThan")),
                _ => Voucher(o, path),
            };
            return Errors.Count == errors ? outcome : null;
        }

        private PointsRateOutcome? PointsRate(JsonElement o, string path)
        {
            var rate = Number(o, path, "rate", min: 0m, required: true);
            var of = Text(o, path, "of", required: true);
            if (of is not null && _type is { } t && !RuleFields.IsNumber(t, of))
                Error($"{path}.of", $"'{of}' is not a number field of {Name(t)} rules");
            var per = Number(o, path, "per", min: 0m) ?? 1m;
            if (per == 0m) Error($"{path}.per", "must be greater than 0");
            var rounding = EnumValue<Rounding>(o, path, "rounding") ?? Rounding.Down;
            return rate is null || of is null ? null
                : new PointsRateOutcome(rate.Value, of, per, rounding, Duration(o, path, "expiresAfter"), Duration(o, path, "pendingFor"));
        }

        private WebhookOutcome? Webhook(JsonElement o, string path)
        {
            var url = Text(o, path, "url", required: true, max: 2_000);
            if (url is not null && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
                Error($"{path}.url", "expected an absolute http or https URL");
            var method = Text(o, path, "method")?.ToUpperInvariant() ?? "POST";
            if (method is not ("GET" or "POST" or "PUT" or "PATCH" or "DELETE"))
                Error($"{path}.method", "expected GET, POST, PUT, PATCH or DELETE");
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (Get(o, "headers") is { } h)
            {
                if (h.ValueKind != JsonValueKind.Object) Error($"{path}.headers", "expected an object of strings");
                else
                    foreach (var p in h.EnumerateObject())
                    {
                        if (p.Value.ValueKind == JsonValueKind.String) headers[p.Name] = p.Value.GetString()!;
                        else Error($"{path}.headers.{p.Name}", "expected a string");
                    }
            }
            var body = Template(o, path, "body");
            return url is null ? null : new WebhookOutcome(url, method, headers, body);
        }

        private VoucherOutcome? Voucher(JsonElement o, string path)
        {
            var dpath = $"{path}.discount";
            decimal? percent = null, amount = null;
            if (Get(o, "discount") is not { } d) Error(dpath, "is required");
            else if (d.ValueKind != JsonValueKind.Object) Error(dpath, "expected {percent} or {amount}");
            else
            {
                Unknown(d, dpath, ["percent", "amount"]);
                percent = Number(d, dpath, "percent", min: 0m);
                amount = Number(d, dpath, "amount", min: 0m);
                if (percent > 100m) Error($"{dpath}.percent", "must be at most 100");
                if ((Get(d, "percent") is null) == (Get(d, "amount") is null)) Error(dpath, "give exactly one of percent and amount");
            }
            var appliesTo = EnumValue<VoucherAppliesTo>(o, path, "appliesTo") ?? VoucherAppliesTo.Basket;
            var code = Text(o, path, "code");
            if (code is not null && !VoucherCode.IsPattern(code)) Error($"{path}.code", "a code pattern needs at least one # (digit) or ? (letter)");
            return new VoucherOutcome(percent, amount, appliesTo, code);
        }

        private static JsonElement? Get(JsonElement obj, string name) =>
            obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

        private void Unknown(JsonElement obj, string path, string[] known)
        {
            foreach (var p in obj.EnumerateObject())
                if (!known.Contains(p.Name, StringComparer.Ordinal)) Error($"{path}.{p.Name}", "unknown field");
        }

        /// <summary>A string of at most <paramref name="max"/> characters (a segment's name: 200, as the segments API takes; it
        /// is part of an index key, which PostgreSQL caps at a few kilobytes).</summary>
        private string? Text(JsonElement obj, string path, string name, bool required = false, int max = 1_000)
        {
            if (Get(obj, name) is not { } v)
            {
                if (required) Error($"{path}.{name}", "is required");
                return null;
            }
            if (v.ValueKind == JsonValueKind.String && v.GetString()!.Length > max)
            {
                Error($"{path}.{name}", $"must be at most {max} characters");
                return null;
            }
            if (v.ValueKind == JsonValueKind.String && (!required || v.GetString()!.Length > 0)) return v.GetString();
            Error($"{path}.{name}", required ? "expected a non-empty string" : "expected a string");
            return null;
        }

        private string? Template(JsonElement obj, string path, string name, bool required = false)
        {
            var text = Text(obj, path, name, required, max: 20_000);
            if (text is not null && Templates.ParseError(text) is { } error)
            {
                Error($"{path}.{name}", $"template does not parse: {error}");
                return null;
            }
            return text;
        }

        private bool NotTooMany(long points, string path)
        {
            if (points <= Ledger.Movements.MaxPoints) return true;
            Error(path, "must be at most 1000000000000000 (10^15)");
            return false;
        }

        private long? Integer(JsonElement obj, string path, string name, long min, bool required = false)
        {
            if (Get(obj, name) is not { } v)
            {
                if (required) Error($"{path}.{name}", "is required");
                return null;
            }
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n >= min && (min >= 0 || n is >= int.MinValue and <= int.MaxValue))
                return n;
            Error($"{path}.{name}", min > 0 ? $"expected an integer of at least {min}" : min == 0 ? "expected a non-negative integer" : "expected an integer");
            return null;
        }

        private decimal? Number(JsonElement obj, string path, string name, decimal min, bool required = false)
        {
            if (Get(obj, name) is not { } v)
            {
                if (required) Error($"{path}.{name}", "is required");
                return null;
            }
            if (v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d >= min) return d;
            Error($"{path}.{name}", min == 0m ? "expected a non-negative number" : "expected a number");
            return null;
        }

        private bool? Flag(JsonElement obj, string path, string name)
        {
            if (Get(obj, name) is not { } v) return null;
            if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return v.GetBoolean();
            Error($"{path}.{name}", "expected true or false");
            return null;
        }

        private DateTimeOffset? Instant(JsonElement obj, string path, string name)
        {
            if (Get(obj, name) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.String && v.TryGetDateTimeOffset(out var at)) return at;
            Error($"{path}.{name}", "expected an ISO-8601 date-time such as 2027-01-01T00:00:00Z");
            return null;
        }

        private Period? Duration(JsonElement obj, string path, string name, bool required = false)
        {
            if (Get(obj, name) is not { } v)
            {
                if (required) Error($"{path}.{name}", "is required");
                return null;
            }
            if (v.ValueKind == JsonValueKind.String && Periods.TryParse(v.GetString()!, out var p) && IsPositive(p))
            {
                if (!Periods.IsTooLong(p)) return p;
                Error($"{path}.{name}", "must be at most 100 years");
                return null;
            }

            Error($"{path}.{name}", "expected a positive ISO-8601 duration such as P30D, P3M or P12M");
            return null;
        }

        private static bool IsPositive(Period p) =>
            !p.Equals(Period.Zero) && p.Years >= 0 && p.Months >= 0 && p.Weeks >= 0 && p.Days >= 0
            && p.Hours >= 0 && p.Minutes >= 0 && p.Seconds >= 0 && p.Milliseconds >= 0 && p.Ticks >= 0 && p.Nanoseconds >= 0;

        private TEnum? EnumValue<TEnum>(JsonElement obj, string path, string name, bool required = false) where TEnum : struct, Enum
        {
            var names = EnumNames<TEnum>.Names;
            if (Get(obj, name) is not { } v)
            {
                if (required) Error($"{path}.{name}", $"is required: one of {string.Join(", ", names)}");
                return null;
            }
            if (v.ValueKind == JsonValueKind.String)
            {
                var i = Array.IndexOf(names, v.GetString());
                if (i >= 0) return EnumNames<TEnum>.Values[i];
            }
            Error($"{path}.{name}", $"expected one of {string.Join(", ", names)}");
            return null;
        }
    }

    // The JSON spelling of each enum, worked out once: validating 10,000 rules reads them 50,000 times.
    private static class EnumNames<TEnum> where TEnum : struct, Enum
    {
        public static readonly TEnum[] Values = Enum.GetValues<TEnum>();
        public static readonly string[] Names = [.. Values.Select(x => JsonNamingPolicy.CamelCase.ConvertName(x.ToString()))];
    }
}
