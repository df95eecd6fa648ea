using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tally;

/// <summary>The one JSON dialect of the API: camelCase, case-insensitive on input, numbers may arrive quoted.</summary>
public static class TallyJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>
    /// As <see cref="Options"/>, for request bodies: an amount, quantity or other decimal is at most 10^12 in magnitude
    /// (<see cref="MaxAmount"/>), so the sums, rates and counters computed from it (counters keep amounts in 10^-4 units in
    /// 64 bits) stay far inside what decimals and 64-bit integers hold. Stored data is read with <see cref="Options"/>.
    /// </summary>
    public static readonly JsonSerializerOptions Requests = new(Options) { Converters = { new BoundedDecimal() } };

    public const decimal MaxAmount = 1_000_000_000_000m;

    public const string AmountTooLarge = "Expected a number between -1000000000000 and 1000000000000 (10^12).";

    private sealed class BoundedDecimal : JsonConverter<decimal>
    {
        public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            decimal value = 0;
            var parsed = reader.TokenType == JsonTokenType.String
                ? decimal.TryParse(reader.GetString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value)
                : reader.TokenType == JsonTokenType.Number && reader.TryGetDecimal(out value);
            if (!parsed) throw new JsonException("Expected a number.");
            return Math.Abs(value) <= MaxAmount ? value : throw new JsonException(AmountTooLarge);
        }

        public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }

    public static JsonSerializerOptions Configure(JsonSerializerOptions o)
    {
        o.PropertyNameCaseInsensitive = true;
        o.NumberHandling = JsonNumberHandling.AllowReadingFromString;
        o.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        o.MaxDepth = 32;
        return o;
    }
}
