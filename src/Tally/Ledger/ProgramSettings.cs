using System.Text.Json;
using NodaTime;
using NodaTime.Text;

namespace Tally.Ledger;

public enum ExpiryMode
{
    None,
    Aging,
    Inactivity,
}

/// <summary>What reversing an award whose points were already spent does to the balance.</summary>
public enum NegativeBalance
{
    Clamp,
    Allow,
}

public enum TierMeasure
{
    Points,
    Spend,
}

public sealed record Tier(string Name, decimal Threshold);

public sealed record SettingsError(string Path, string Message);

public sealed record SettingsParse(ProgramSettings? Settings, IReadOnlyList<SettingsError> Errors)
{
    public bool IsValid => Settings is not null;
}

/// <summary>A tenant's program (ledger.md): the defaults below are what an empty <c>{}</c> means.</summary>
public sealed record ProgramSettings
{
    public static ProgramSettings Default { get; } = new();

    public DateTimeZone TimeZone { get; init; } = DateTimeZone.Utc;
    public ExpiryMode ExpiryMode { get; init; } = ExpiryMode.None;

    /// <summary>Aging: how long each award lives. Inactivity: how long without an earn empties the balance.</summary>
    public Period ExpiryAfter { get; init; } = Period.Zero;
    public Period PendingFor { get; init; } = Period.Zero;
    public NegativeBalance NegativeBalance { get; init; } = NegativeBalance.Clamp;
    public IReadOnlyList<Tier> Tiers { get; init; } = [];
    public TierMeasure TierMeasure { get; init; } = TierMeasure.Points;

    /// <summary>The rolling window of the tier measure and the length of a tier period; null means lifetime.</summary>
    public Period? TierPeriod { get; init; } = Period.FromMonths(12);
    public Period ExpiryReminderBefore { get; init; } = Period.FromDays(30);
    public Period TierDowngradeReminderBefore { get; init; } = Period.FromDays(30);

    // Periods are calendar arithmetic in the program's timezone: "P1M" after 31 January local is the
    // last day of February local, whatever the UTC offset did in between.
    public DateTimeOffset Add(DateTimeOffset at, Period period) => Shift(at, period, +1);

    public DateTimeOffset Subtract(DateTimeOffset at, Period period) => Shift(at, period, -1);

    private DateTimeOffset Shift(DateTimeOffset at, Period period, int sign)
    {
        var local = Instant.FromDateTimeOffset(at).InZone(TimeZone).LocalDateTime;
        var moved = sign > 0 ? local + period : local - period;
        return moved.InZoneLeniently(TimeZone).ToDateTimeOffset();
    }

    private static readonly string[] Fields = ["timezone", "expiry", "pendingFor", "negativeBalance", "tiers", "tierBasis", "reminders"];

    /// <summary>Parses and validates a program document, returning every problem with its JSON path.</summary>
    public static SettingsParse Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            return new(null, [new("$", "Not valid JSON: " + e.Message)]);
        }

        using (doc)
        {
            var errors = new List<SettingsError>();
            var settings = Read(doc.RootElement, errors);
            return errors.Count == 0 ? new(settings, []) : new(null, errors);
        }
    }

    private static ProgramSettings Read(JsonElement root, List<SettingsError> errors)
    {
        var s = new ProgramSettings();
        if (root.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("$", "Expected an object."));
            return s;
        }

        RejectUnknown(root, "$", Fields, errors);

        if (root.TryGetProperty("timezone", out var tz))
        {
            var id = String(tz, "$.timezone", errors);
            if (id is not null)
            {
                var zone = DateTimeZoneProviders.Tzdb.GetZoneOrNull(id);
                if (zone is null) errors.Add(new("$.timezone", $"Unknown IANA timezone '{id}'."));
                else s = s with { TimeZone = zone };
            }
        }

        if (root.TryGetProperty("expiry", out var expiry) && Object(expiry, "$.expiry", ["mode", "after"], errors))
        {
            var mode = expiry.TryGetProperty("mode", out var m)
                ? Enum<ExpiryMode>(m, "$.expiry.mode", errors)
                : ExpiryMode.None;
            var after = expiry.TryGetProperty("after", out var a) ? PeriodOf(a, "$.expiry.after", errors) : null;
            if (mode is ExpiryMode.Aging or ExpiryMode.Inactivity)
            {
                if (after is null && !expiry.TryGetProperty("after", out _))
                    errors.Add(new("$.expiry.after", $"Required when mode is {Lower(mode.Value)}."));
                else if (after is not null && IsZero(after))
                    errors.Add(new("$.expiry.after", "Must be longer than zero."));
            }

            s = s with { ExpiryMode = mode ?? ExpiryMode.None, ExpiryAfter = after ?? Period.Zero };
        }

        if (root.TryGetProperty("pendingFor", out var pending))
            s = s with { PendingFor = PeriodOf(pending, "$.pendingFor", errors) ?? Period.Zero };

        if (root.TryGetProperty("negativeBalance", out var neg))
            s = s with { NegativeBalance = Enum<NegativeBalance>(neg, "$.negativeBalance", errors) ?? NegativeBalance.Clamp };

        if (root.TryGetProperty("tiers", out var tiers))
            s = s with { Tiers = ReadTiers(tiers, errors) };

        if (root.TryGetProperty("tierBasis", out var basis) && Object(basis, "$.tierBasis", ["measure", "period"], errors))
        {
            if (basis.TryGetProperty("measure", out var measure))
                s = s with { TierMeasure = Enum<TierMeasure>(measure, "$.tierBasis.measure", errors) ?? TierMeasure.Points };
            if (basis.TryGetProperty("period", out var period))
            {
                if (period.ValueKind == JsonValueKind.String && period.GetString() == "lifetime")
                {
                    s = s with { TierPeriod = null };
                }
                else
                {
                    var p = PeriodOf(period, "$.tierBasis.period", errors);
                    if (p is not null && IsZero(p)) errors.Add(new("$.tierBasis.period", "Must be longer than zero, or \"lifetime\"."));
                    else if (p is not null) s = s with { TierPeriod = p };
                }
            }
        }

        if (root.TryGetProperty("reminders", out var reminders)
            && Object(reminders, "$.reminders", ["expiryBefore", "tierDowngradeBefore"], errors))
        {
            if (reminders.TryGetProperty("expiryBefore", out var eb))
                s = s with { ExpiryReminderBefore = PeriodOf(eb, "$.reminders.expiryBefore", errors) ?? s.ExpiryReminderBefore };
            if (reminders.TryGetProperty("tierDowngradeBefore", out var tb))
                s = s with { TierDowngradeReminderBefore = PeriodOf(tb, "$.reminders.tierDowngradeBefore", errors) ?? s.TierDowngradeReminderBefore };
        }

        return s;
    }

    private static List<Tier> ReadTiers(JsonElement tiers, List<SettingsError> errors)
    {
        var result = new List<Tier>();
        if (tiers.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new("$.tiers", "Expected an array."));
            return result;
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        decimal? previous = null;
        var i = 0;
        foreach (var t in tiers.EnumerateArray())
        {
            var path = $"$.tiers[{i++}]";
            if (!Object(t, path, ["name", "threshold"], errors)) continue;

            string? name = null;
            if (!t.TryGetProperty("name", out var n)) errors.Add(new(path + ".name", "Required."));
            else name = String(n, path + ".name", errors);
            if (name is not null && name.Trim().Length == 0)
            {
                errors.Add(new(path + ".name", "Must not be empty."));
                name = null;
            }
            else if (name is not null && !names.Add(name))
            {
                errors.Add(new(path + ".name", $"Duplicate tier name '{name}'."));
            }

            decimal? threshold = null;
            if (!t.TryGetProperty("threshold", out var th)) errors.Add(new(path + ".threshold", "Required."));
            else if (th.ValueKind != JsonValueKind.Number || !th.TryGetDecimal(out var d)) errors.Add(new(path + ".threshold", "Expected a number."));
            else if (d < 0) errors.Add(new(path + ".threshold", "Must not be negative."));
            else threshold = d;

            if (threshold is not null)
            {
                if (previous is not null && threshold <= previous)
                    errors.Add(new(path + ".threshold", "Thresholds must increase strictly from one tier to the next."));
                previous = threshold;
            }

            if (name is not null && threshold is not null) result.Add(new(name, threshold.Value));
        }

        return result;
    }

    private static bool Object(JsonElement e, string path, string[] fields, List<SettingsError> errors)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new(path, "Expected an object."));
            return false;
        }

        RejectUnknown(e, path, fields, errors);
        return true;
    }

    private static void RejectUnknown(JsonElement e, string path, string[] fields, List<SettingsError> errors)
    {
        foreach (var p in e.EnumerateObject())
        {
            if (!fields.Contains(p.Name, StringComparer.Ordinal))
                errors.Add(new($"{path}.{p.Name}", "Unknown field."));
        }
    }

    private static string? String(JsonElement e, string path, List<SettingsError> errors)
    {
        if (e.ValueKind == JsonValueKind.String) return e.GetString();
        errors.Add(new(path, "Expected a string."));
        return null;
    }

    private static T? Enum<T>(JsonElement e, string path, List<SettingsError> errors)
        where T : struct, Enum
    {
        var text = String(e, path, errors);
        if (text is null) return null;
        foreach (var value in System.Enum.GetValues<T>())
        {
            if (string.Equals(Lower(value), text, StringComparison.Ordinal)) return value;
        }

        errors.Add(new(path, $"Expected one of {string.Join(", ", System.Enum.GetValues<T>().Select(v => Lower(v)))}."));
        return null;
    }

    private static Period? PeriodOf(JsonElement e, string path, List<SettingsError> errors)
    {
        var text = String(e, path, errors);
        if (text is null) return null;
        var parsed = PeriodPattern.NormalizingIso.Parse(text);
        if (!parsed.Success)
        {
            errors.Add(new(path, $"'{text}' is not an ISO 8601 period such as P30D or P12M."));
            return null;
        }

        var p = parsed.Value;
        if (p.Years < 0 || p.Months < 0 || p.Weeks < 0 || p.Days < 0 || p.Hours < 0 || p.Minutes < 0
            || p.Seconds < 0 || p.Milliseconds < 0 || p.Ticks < 0 || p.Nanoseconds < 0)
        {
            errors.Add(new(path, "Must not be negative."));
            return null;
        }

        if (Rules.Periods.IsTooLong(p))
        {
            errors.Add(new(path, Rules.Periods.TooLong));
            return null;
        }

        return p;
    }

    internal static bool IsZero(Period p) => p.Normalize().Equals(Period.Zero);

    internal static string Lower<T>(T value)
        where T : struct, Enum =>
        JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    /// <summary>The canonical document, as <c>GET /api/v1/program</c> answers it; parses back to an equal program.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("timezone", TimeZone.Id);
            w.WriteStartObject("expiry");
            w.WriteString("mode", Lower(ExpiryMode));
            w.WriteString("after", PeriodPattern.NormalizingIso.Format(ExpiryAfter));
            w.WriteEndObject();
            w.WriteString("pendingFor", PeriodPattern.NormalizingIso.Format(PendingFor));
            w.WriteString("negativeBalance", Lower(NegativeBalance));
            w.WriteStartArray("tiers");
            foreach (var t in Tiers)
            {
                w.WriteStartObject();
                w.WriteString("name", t.Name);
                w.WriteNumber("threshold", t.Threshold);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("tierBasis");
            w.WriteString("measure", Lower(TierMeasure));
            w.WriteString("period", TierPeriod is null ? "lifetime" : PeriodPattern.NormalizingIso.Format(TierPeriod));
            w.WriteEndObject();
            w.WriteStartObject("reminders");
            w.WriteString("expiryBefore", PeriodPattern.NormalizingIso.Format(ExpiryReminderBefore));
            w.WriteString("tierDowngradeBefore", PeriodPattern.NormalizingIso.Format(TierDowngradeReminderBefore));
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Parses a period known to be valid (an outcome's, already validated when its rule was stored); throws otherwise.</summary>
    public static Period ParsePeriod(string text) => PeriodPattern.NormalizingIso.Parse(text).Value;
}
