using System.Globalization;

namespace Tally.Rules;

/// <summary>
/// Typed comparisons, built once per leaf. A missing value fails every test except ne and notIn (and exists false).
/// Text compares ordinally; numbers as decimal.
/// </summary>
internal static class Predicates
{
    public static Func<T, bool> For<T>(FieldDef<T> def, ConditionOp op, object? value) => def.Kind switch
    {
        FieldKind.Number => Number(def.Number!, op, value),
        FieldKind.Flag => Flag(def.Flag!, op, value),
        FieldKind.List => List(def.List!, op, value),
        FieldKind.Attribute => Attribute(def.Text!, op, value),
        _ => Text(def.Text!, op, value),
    };

    public static string Describe(ConditionOp op, object? value) => $"{Name(op)} {Format(value)}";

    private static readonly string[] OpNames = [.. RuleParser.Ops.OrderBy(p => p.Value).Select(p => p.Key)];

    public static string Name(ConditionOp op) => OpNames[(int)op];

    private static string Format(object? value) => value switch
    {
        null => "",
        object[] list => $"[{string.Join(", ", list.Select(Format))}]",
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static Func<T, bool> Number<T>(Func<T, decimal?> get, ConditionOp op, object? value)
    {
        if (op == ConditionOp.Exists)
        {
            var want = (bool)value!;
            return c => get(c).HasValue == want;
        }
        if (op is ConditionOp.In or ConditionOp.NotIn)
        {
            var set = ((object[])value!).Select(v => (decimal)v).ToArray();
            var negate = op == ConditionOp.NotIn;
            return c => (get(c) is { } x && Array.IndexOf(set, x) >= 0) != negate;
        }
        var d = (decimal)value!;
        return op switch
        {
            ConditionOp.Eq => c => get(c) is { } x && x == d,
            ConditionOp.Ne => c => !(get(c) is { } x && x == d),
            ConditionOp.Gt => c => get(c) is { } x && x > d,
            ConditionOp.Gte => c => get(c) is { } x && x >= d,
            ConditionOp.Lt => c => get(c) is { } x && x < d,
            _ => c => get(c) is { } x && x <= d,
        };
    }

    private static Func<T, bool> Text<T>(Func<T, string?> get, ConditionOp op, object? value)
    {
        if (op == ConditionOp.Exists)
        {
            var want = (bool)value!;
            return c => get(c) is not null == want;
        }
        if (op is ConditionOp.In or ConditionOp.NotIn)
        {
            var set = ((object[])value!).Select(v => (string)v).ToArray();
            var negate = op == ConditionOp.NotIn;
            return c => (get(c) is { } x && set.Contains(x, StringComparer.Ordinal)) != negate;
        }
        var s = (string)value!;
        return op switch
        {
            ConditionOp.Eq => c => string.Equals(get(c), s, StringComparison.Ordinal),
            ConditionOp.Ne => c => !string.Equals(get(c), s, StringComparison.Ordinal),
            ConditionOp.Gt => c => get(c) is { } x && string.CompareOrdinal(x, s) > 0,
            ConditionOp.Gte => c => get(c) is { } x && string.CompareOrdinal(x, s) >= 0,
            ConditionOp.Lt => c => get(c) is { } x && string.CompareOrdinal(x, s) < 0,
            ConditionOp.Lte => c => get(c) is { } x && string.CompareOrdinal(x, s) <= 0,
            ConditionOp.Contains => c => get(c)?.Contains(s, StringComparison.Ordinal) == true,
            _ => c => get(c)?.StartsWith(s, StringComparison.Ordinal) == true,
        };
    }

    private static Func<T, bool> Flag<T>(Func<T, bool?> get, ConditionOp op, object? value)
    {
        var b = (bool)value!;
        return op switch
        {
            ConditionOp.Exists => c => get(c).HasValue == b,
            ConditionOp.Eq => c => get(c) == b,
            _ => c => get(c) != b,
        };
    }

    // Loops rather than lambdas inside the returned closures: a nested lambda capturing the value would allocate per call.
    private static Func<T, bool> List<T>(Func<T, IReadOnlyList<string>?> get, ConditionOp op, object? value)
    {
        switch (op)
        {
            case ConditionOp.Exists:
                var want = (bool)value!;
                return c => get(c) is { Count: > 0 } == want;
            case ConditionOp.In or ConditionOp.NotIn:
                var set = ((object[])value!).Select(v => (string)v).ToArray();
                var negate = op == ConditionOp.NotIn;
                return c =>
                {
                    if (get(c) is { } list)
                        for (var i = 0; i < list.Count; i++)
                            if (Array.IndexOf(set, list[i]) >= 0) return !negate;
                    return negate;
                };
            case ConditionOp.Contains:
                var s = (string)value!;
                return c =>
                {
                    if (get(c) is { } list)
                        for (var i = 0; i < list.Count; i++)
                            if (string.Equals(list[i], s, StringComparison.Ordinal)) return true;
                    return false;
                };
            default:
                var prefix = (string)value!;
                return c =>
                {
                    if (get(c) is { } list)
                        for (var i = 0; i < list.Count; i++)
                            if (list[i].StartsWith(prefix, StringComparison.Ordinal)) return true;
                    return false;
                };
        }
    }

    // Attributes are text on the wire; a rule comparing with a number or a boolean means the parsed value.
    private static Func<T, bool> Attribute<T>(Func<T, string?> get, ConditionOp op, object? value)
    {
        var numeric = value is decimal || (value is object[] list && list.All(v => v is decimal));
        if (op != ConditionOp.Exists && numeric)
            return Number<T>(c => decimal.TryParse(get(c), NumberStyles.Number, CultureInfo.InvariantCulture, out var d) ? d : null, op, value);
        if (op != ConditionOp.Exists && value is bool)
            return Flag<T>(c => bool.TryParse(get(c), out var b) ? b : null, op, value);
        if (value is object[] mixed)
            value = mixed.Select(v => v is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : v).ToArray<object>();
        return Text(get, op, value);
    }
}
