using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tally;

/// <summary>The one JSON dialect of the API: camelCase, case-insensitive on input, numbers may arrive quoted.</summary>
public static class TallyJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions o)
    {
        o.PropertyNameCaseInsensitive = true;
        o.NumberHandling = JsonNumberHandling.AllowReadingFromString;
        o.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        o.MaxDepth = 32;
        return o;
    }
}
