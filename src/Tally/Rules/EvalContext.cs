using NodaTime;
using Tally.Customers;
using Tally.Events;

namespace Tally.Rules;

/// <summary>
/// One event as the compiled rules see it. Built once per evaluation; the aggregates (sku lists, yearsSinceJoining...)
/// are computed on first use so a rule set that never asks for them pays nothing.
/// </summary>
internal sealed class EvalContext
{
    public EvalContext(EventBody body, Customer customer, RuleFacts facts, DateTimeOffset now)
    {
        Body = body;
        Customer = customer;
        Facts = facts;
        Now = now;
        EventTime = body.CreatedAt ?? now;
        Type = TypeOf(body);
    }

    public EventBody Body { get; }
    public Customer Customer { get; }
    public RuleFacts Facts { get; }
    public DateTimeOffset Now { get; }

    /// <summary>When the event happened: its createdAt, else now. Counter windows and triggers count from here.</summary>
    public DateTimeOffset EventTime { get; }
    public RuleEventType Type { get; }

    /// <summary>Non-null only while tracing; leaves append to it.</summary>
    public List<ConditionTrace>? Trace { get; set; }

    /// <summary>The counter keys whose filter this event matched, set by the RuleSet before conditions run.</summary>
    public HashSet<string>? MatchedCounterKeys { get; set; }

    public OrderDetail? Order => (Body as OrderEvent)?.Order;
    public ActionDetail? Action => (Body as ActionEvent)?.Action;
    public TransactionDetail? Transaction => (Body as TransactionEvent)?.Transaction;
    public BasketDetail? Basket => (Body as BasketEvent)?.Basket;
    public CalendarDetail? Calendar => (Body as CalendarEvent)?.Calendar;
    public PointsDetail? Points => (Body as PointsEvent)?.Points;

    /// <summary>The spend of an order or transaction: what `spend` rules and lifetime value see.</summary>
    public decimal? SpendTotal => Order?.Total ?? Transaction?.Total;

    public static RuleEventType TypeOf(EventBody body) => body switch
    {
        ActionEvent => RuleEventType.Action,
        OrderEvent => RuleEventType.Order,
        TransactionEvent => RuleEventType.Transaction,
        BasketEvent => RuleEventType.Basket,
        CalendarEvent => RuleEventType.Calendar,
        PointsEvent => RuleEventType.Points,
        _ => throw new ArgumentException($"Rules do not assess {body.GetType().Name} events.", nameof(body)),
    };

    private int? _yearsSinceJoining;

    public int YearsSinceJoining => _yearsSinceJoining ??= Periods.WholeYears(Customer.CreatedAt, Now);

    public IReadOnlyList<LineItem> Lines => Order?.OrderItems ?? Basket?.BasketItems ?? [];

    private string[]? _skus, _vendors, _categories, _productTypes;

    // Lists cover basket item parts too: a sku sold inside a bundle is still "in the basket".
    public string[] Skus => _skus ??= Collect(l => l.Sku is { } s ? [s] : []);
    public string[] Vendors => _vendors ??= Collect(l => l.Vendor is { } s ? [s] : []);
    public string[] Categories => _categories ??= Collect(l => l.Tags ?? []);
    public string[] ProductTypes => _productTypes ??= Collect(l => l.ProductType is { } s ? [s] : []);

    public decimal LineQuantity => Lines.Sum(l => l.Quantity ?? 0m);

    private Dictionary<string, List<LineItem>>? _linesBySku;

    /// <summary>The lines by SKU (their own, or a part's), built once per event.</summary>
    private Dictionary<string, List<LineItem>> LinesBySku => _linesBySku ??= IndexLinesBySku();

    /// <summary>The lines whose SKU, or the SKU of one of whose parts, is <paramref name="sku"/>; in order, each once.</summary>
    public IReadOnlyList<LineItem> LinesWithSku(string sku) => LinesBySku.TryGetValue(sku, out var found) ? found : [];

    /// <summary>The SKUs of the event's lines and line parts, each once.</summary>
    public Dictionary<string, List<LineItem>>.KeyCollection LineSkus => LinesBySku.Keys;

    public bool HasLineSku(string sku) => LinesBySku.ContainsKey(sku);

    private Dictionary<string, List<LineItem>> IndexLinesBySku()
    {
        var lines = Lines;
        var index = new Dictionary<string, List<LineItem>>(lines.Count, StringComparer.Ordinal);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line.Sku is { } own) Index(own, line);
            if (line.BasketItemParts is { } parts)
                for (var j = 0; j < parts.Count; j++)
                    if (parts[j].Sku is { } p) Index(p, line);
        }
        return index;

        void Index(string key, LineItem line)
        {
            if (!index.TryGetValue(key, out var list)) index[key] = list = new(1);
            if (list.Count == 0 || !ReferenceEquals(list[^1], line)) list.Add(line);
        }
    }

    private string[] Collect(Func<LineItem, IEnumerable<string>> pick)
    {
        var seen = new List<string>();
        foreach (var line in Lines)
        {
            Add(line);
            foreach (var part in line.BasketItemParts ?? []) Add(part);
        }
        return [.. seen];

        void Add(LineItem l)
        {
            foreach (var s in pick(l))
                if (!seen.Contains(s, StringComparer.Ordinal)) seen.Add(s);
        }
    }

    public static string? Attribute(IReadOnlyList<KeyValue>? attributes, string key)
    {
        if (attributes is null) return null;
        foreach (var kv in attributes)
            if (string.Equals(kv.Key, key, StringComparison.Ordinal)) return kv.Value;
        return null;
    }

    public CounterFact Counter(CounterQuery query) =>
        Facts.Counters.TryGetValue(query, out var fact) ? fact : CounterFact.Zero;
}

/// <summary>ISO-8601 periods (P30D, P3M, P12M) applied on the UTC calendar.</summary>
public static class Periods
{
    /// <summary>
    /// The longest period Tally takes from outside (an expiry, a pending delay, a tier window, a reminder, a test-clock move),
    /// and the latest instant: dates are kept far enough from the calendar's end (year 9999) that adding periods to them,
    /// as expiries, reminders and tier periods do, cannot overflow. Longer or later input is a 400, not an error later.
    /// </summary>
    public const int LongestYears = 100;

    public static readonly DateTimeOffset Latest = new(9000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The earliest instant taken from outside (an event's time, a simulation's): periods are also counted back from it.</summary>
    public static readonly DateTimeOffset Earliest = new(1900, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static bool InRange(DateTimeOffset at) => at >= Earliest && at < Latest;

    public const string OutOfRange = "Must lie between 1900-01-01T00:00:00Z and 9000-01-01T00:00:00Z.";

    public const string TooLong = "Must be at most 100 years.";

    public const string TooLate = "Must be before 9000-01-01T00:00:00Z.";

    /// <summary>Whether the period is longer than <see cref="LongestYears"/> (each unit counted at its longest).</summary>
    public static bool IsTooLong(Period p) =>
        p.Years * 366.0 + p.Months * 30.5 + p.Weeks * 7.0 + p.Days + p.Hours / 24.0 + p.Minutes / 1_440.0 + p.Seconds / 86_400.0
        + p.Milliseconds / 86_400_000.0 + p.Ticks / 864_000_000_000.0 + p.Nanoseconds / 86_400_000_000_000.0 > LongestYears * 366.0;

    public static bool TryParse(string text, out Period period)
    {
        var result = NodaTime.Text.PeriodPattern.NormalizingIso.Parse(text);
        period = result.Success ? result.Value : Period.Zero;
        return result.Success;
    }

    public static string Format(Period period) => NodaTime.Text.PeriodPattern.NormalizingIso.Format(period);

    public static DateTimeOffset Add(DateTimeOffset at, Period period) =>
        (LocalDateTime.FromDateTime(at.UtcDateTime) + period).InUtc().ToDateTimeOffset();

    public static DateTimeOffset Subtract(DateTimeOffset at, Period period) =>
        (LocalDateTime.FromDateTime(at.UtcDateTime) - period).InUtc().ToDateTimeOffset();

    public static int WholeYears(DateTimeOffset from, DateTimeOffset to)
    {
        var a = LocalDate.FromDateTime(from.UtcDateTime);
        var b = LocalDate.FromDateTime(to.UtcDateTime);
        return b < a ? 0 : Period.Between(a, b, PeriodUnits.Years).Years;
    }
}
