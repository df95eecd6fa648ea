using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Tally.Server.Http;

/// <summary>
/// Compares a well-formed JSON body with the shape of the type it should bind to, and names every field whose
/// JSON type is wrong, in JSON's words ("a number", "a string"), with its path. The serializer stops at the first
/// such field and names CLR types; a client fixing a body wants them all at once, in the terms of the body.
/// </summary>
/// <remarks>
/// It follows the serializer's own metadata (names, case-insensitivity, numbers allowed as strings), so it agrees
/// with what binding accepts. Fields with a custom converter are left to that converter; unknown fields are ignored,
/// as binding ignores them.
/// </remarks>
public static class JsonShape
{
    public static List<FieldError> Mismatches(JsonElement root, Type type, JsonSerializerOptions options)
    {
        var errors = new List<FieldError>();
        Check(root, options.GetTypeInfo(type), "$", options, errors, depth: 0);
        return errors;
    }

    private static void Check(JsonElement value, JsonTypeInfo info, string path, JsonSerializerOptions options, List<FieldError> errors, int depth)
    {
        if (depth > options.MaxDepth) return;
        var type = Nullable.GetUnderlyingType(info.Type) ?? info.Type;
        if (value.ValueKind == JsonValueKind.Null)
        {
            if (info.Type.IsValueType && Nullable.GetUnderlyingType(info.Type) is null) errors.Add(new FieldError(path, "Must not be null."));
            return;
        }

        if (Scalar(value, type, options) is { } problem)
        {
            if (problem.Length > 0) errors.Add(new FieldError(path, problem));
            return;
        }

        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object when value.ValueKind != JsonValueKind.Object:
                errors.Add(new FieldError(path, "Expected an object."));
                return;
            case JsonTypeInfoKind.Object:
                foreach (var field in value.EnumerateObject())
                {
                    var property = info.Properties.FirstOrDefault(p => string.Equals(
                        p.Name, field.Name, options.PropertyNameCaseInsensitive ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal));
                    if (property is null || property.CustomConverter is not null || property.Set is null) continue;
                    Check(field.Value, options.GetTypeInfo(property.PropertyType), $"{path}.{field.Name}", options, errors, depth + 1);
                }

                return;
            case JsonTypeInfoKind.Enumerable when value.ValueKind != JsonValueKind.Array:
                errors.Add(new FieldError(path, "Expected an array."));
                return;
            case JsonTypeInfoKind.Enumerable:
                var element = options.GetTypeInfo(info.ElementType!);
                var i = 0;
                foreach (var item in value.EnumerateArray()) Check(item, element, $"{path}[{i++}]", options, errors, depth + 1);
                return;
            case JsonTypeInfoKind.Dictionary when value.ValueKind != JsonValueKind.Object:
                errors.Add(new FieldError(path, "Expected an object."));
                return;
            case JsonTypeInfoKind.Dictionary:
                var entry = options.GetTypeInfo(info.ElementType!);
                foreach (var field in value.EnumerateObject()) Check(field.Value, entry, $"{path}.{field.Name}", options, errors, depth + 1);
                return;
        }
    }

    /// <summary>For a scalar type: "" when the value fits, else what was expected; null when the type is not a scalar.</summary>
    private static string? Scalar(JsonElement value, Type type, JsonSerializerOptions options)
    {
        var quotedNumbers = (options.NumberHandling & System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString) != 0;
        if (type == typeof(string)) return value.ValueKind == JsonValueKind.String ? "" : "Expected a string.";
        if (type == typeof(bool)) return value.ValueKind is JsonValueKind.True or JsonValueKind.False ? "" : "Expected true or false.";
        if (type == typeof(Guid)) return value.ValueKind == JsonValueKind.String && value.TryGetGuid(out _) ? "" : "Expected a UUID string.";
        if (type == typeof(DateTimeOffset) || type == typeof(DateTime))
            return value.ValueKind == JsonValueKind.String && value.TryGetDateTimeOffset(out _) ? "" : "Expected a date and time (ISO 8601), such as 2026-01-31T12:00:00Z.";
        if (type == typeof(DateOnly))
            return value.ValueKind == JsonValueKind.String && DateOnly.TryParseExact(value.GetString(), "yyyy-MM-dd", out _) ? "" : "Expected a date, such as 2026-01-31.";
        if (type == typeof(JsonElement) || type == typeof(object)) return "";
        if (type.IsEnum) return value.ValueKind is JsonValueKind.String or JsonValueKind.Number ? "" : "Expected one of the names this field takes.";

        var integer = type == typeof(long) || type == typeof(int) || type == typeof(short) || type == typeof(byte);
        if (!integer && type != typeof(decimal) && type != typeof(double) && type != typeof(float)) return null;
        var number = value.ValueKind == JsonValueKind.Number || (quotedNumbers && value.ValueKind == JsonValueKind.String);
        if (!number) return integer ? "Expected a whole number." : "Expected a number.";
        var text = value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        var isNumber = double.TryParse(text, System.Globalization.NumberStyles.Float, culture, out var d);
        if (!isNumber) return integer ? "Expected a whole number." : "Expected a number.";
        if (integer && (d != Math.Floor(d) || text.Contains('.', StringComparison.Ordinal))) return "Expected a whole number.";
        var fits = type == typeof(long) ? long.TryParse(text, System.Globalization.NumberStyles.Integer, culture, out _)
            : type == typeof(int) ? int.TryParse(text, System.Globalization.NumberStyles.Integer, culture, out _)
            : type == typeof(short) ? short.TryParse(text, System.Globalization.NumberStyles.Integer, culture, out _)
            : type == typeof(byte) ? byte.TryParse(text, System.Globalization.NumberStyles.Integer, culture, out _)
            : type == typeof(decimal) ? decimal.TryParse(text, System.Globalization.NumberStyles.Float, culture, out var m) && Math.Abs(m) <= Tally.TallyJson.MaxAmount
            : double.IsFinite(d) && (type == typeof(double) || float.IsFinite((float)d));
        if (!fits && type == typeof(decimal)) return Tally.TallyJson.AmountTooLarge;
        return fits ? "" : "Expected a number in range.";
    }
}
