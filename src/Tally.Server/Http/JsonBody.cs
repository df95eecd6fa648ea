using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Tally.Server.Http;

/// <summary>
/// A body read, parsed and checked for media type and size; either a value or the problem to answer. Raw is the text as
/// received, decoded when asked for (a basket, stored nowhere, never asks).
/// </summary>
public readonly record struct Body<T>(T? Value, ReadOnlyMemory<byte> Bytes, ProblemHttpResult? Problem)
{
    public string Raw => Encoding.UTF8.GetString(Bytes.Span);
}

/// <summary>
/// Reads request bodies ourselves rather than through parameter binding: so every failure (media type,
/// size, syntax, types) becomes a problem with a code and the JSON path, and the raw text is kept to store.
/// </summary>
public static class JsonBody
{
    public static async Task<Body<T>> ReadAsync<T>(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (!IsJson(request.ContentType))
        {
            return new Body<T>(default, default, Problems.Problem(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type",
                "Unsupported media type.", "Send the body as application/json."));
        }

        if (request.ContentLength > maxBytes) return new Body<T>(default, default, TooLarge(maxBytes));

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and var n ? (int)n : 4096);
        while (true)
        {
            var span = buffer.GetMemory(4096);
            var read = await request.Body.ReadAsync(span, ct);
            if (read == 0) break;
            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes) return new Body<T>(default, default, TooLarge(maxBytes));
        }

        var bytes = buffer.WrittenSpan;
        if (bytes.IsEmpty) return new Body<T>(default, default, Problems.MalformedJson("$", "The body is empty."));
        if (MayHoldNul(bytes) && NulPath(buffer.WrittenMemory) is { } nul)
            return new Body<T>(default, default, Problems.Validation(nul, "Text must not contain the NUL character (\\u0000)."));
        try
        {
            var value = JsonSerializer.Deserialize<T>(bytes, Tally.TallyJson.Requests);
            if (value is null) return new Body<T>(default, default, Problems.Validation("$", "The body must be a JSON object."));
            if (typeof(T) != typeof(JsonElement) && bytes.IndexOf("null"u8) >= 0 && NullElementPath(buffer.WrittenMemory) is { } hole)
                return new Body<T>(default, default, Problems.Validation(hole, "Must not be null: a list holds values."));
            return new Body<T>(value, buffer.WrittenMemory, null);
        }
        catch (JsonException ex)
        {
            return new Body<T>(default, default, Describe(bytes, typeof(T), ex));
        }
    }

    /// <summary>
    /// Tells a syntax error (malformed_json) from a well-formed body with wrongly typed fields (validation_failed,
    /// naming every one of them).
    /// </summary>
    private static ProblemHttpResult Describe(ReadOnlySpan<byte> bytes, Type type, JsonException ex)
    {
        var path = string.IsNullOrEmpty(ex.Path) ? "$" : ex.Path;
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            while (reader.Read())
            {
            }
        }
        catch (JsonException syntax)
        {
            return Problems.MalformedJson(string.IsNullOrEmpty(syntax.Path) ? path : syntax.Path, FirstSentence(syntax.Message));
        }

        var reader2 = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 64 });
        using var doc = JsonDocument.ParseValue(ref reader2);
        var mismatches = JsonShape.Mismatches(doc.RootElement, type, Tally.TallyJson.Requests);
        return mismatches.Count > 0 ? Problems.Validation(mismatches) : Problems.Validation(path, FirstSentence(ex.Message));
    }

    /// <summary>
    /// Whether the body escapes a NUL character (<c>\u0000</c>; JSON cannot carry a raw one). No text Tally keeps may
    /// hold it: PostgreSQL refuses it in text and jsonb, so it is refused at the door on both stores, as a 400.
    /// </summary>
    private static bool MayHoldNul(ReadOnlySpan<byte> bytes)
    {
        for (var at = bytes.IndexOf("u0000"u8); at >= 0; at = Next(bytes, at))
        {
            var slashes = 0;
            while (at - slashes - 1 >= 0 && bytes[at - slashes - 1] == (byte)'\\') slashes++;
            if (slashes % 2 == 1) return true;
        }

        return false;

        static int Next(ReadOnlySpan<byte> bytes, int at) => bytes[(at + 1)..].IndexOf("u0000"u8) is var i and >= 0 ? at + 1 + i : -1;
    }

    /// <summary>The JSON path of the first null element of an array (a line, a tag, an attribute), if any: typed bodies take none.</summary>
    public static string? NullElementPath(ReadOnlyMemory<byte> bytes)
    {
        using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        return NullElementPath(doc.RootElement, "$");
    }

    public static string? NullElementPath(JsonElement e, string path) =>
        FirstPath(e, path, static (value, inArray) => inArray && value.ValueKind == JsonValueKind.Null, static _ => false);

    /// <summary>The JSON path of the first name or string that holds a NUL character; null if none does (or the body is not JSON).</summary>
    private static string? NulPath(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
            return FirstPath(doc.RootElement, "$",
                static (value, _) => value.ValueKind == JsonValueKind.String && value.GetString()!.Contains('\0', StringComparison.Ordinal),
                static name => name.Contains('\0', StringComparison.Ordinal));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Depth first, the path of the first value <paramref name="bad"/> picks (told whether it is an array's element) or of the first member whose name <paramref name="badName"/> picks.</summary>
    private static string? FirstPath(JsonElement e, string path, Func<JsonElement, bool, bool> bad, Func<string, bool> badName, bool inArray = false)
    {
        if (bad(e, inArray)) return path;
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    var at = $"{path}.{p.Name}";
                    if (badName(p.Name)) return at;
                    if (FirstPath(p.Value, at, bad, badName) is { } found) return found;
                }

                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    if (FirstPath(item, $"{path}[{i++}]", bad, badName, inArray: true) is { } found) return found;
                }

                return null;
            default:
                return null;
        }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    private static ProblemHttpResult TooLarge(int maxBytes) =>
        Problems.Problem(StatusCodes.Status413PayloadTooLarge, "payload_too_large", "Payload too large.", $"The body may be at most {maxBytes} bytes.");

    private static bool IsJson(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType)) return false;
        var media = contentType.Split(';', 2)[0].Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (media.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && media.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Parses a UUID field, recording an error at <paramref name="path"/> when it is not one.</summary>
    public static Guid? Uuid(string? value, string path, bool required, List<FieldError> errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required) errors.Add(new FieldError(path, "Required: a UUID such as 00000000-0000-0000-0000-000000000000."));
            return null;
        }

        if (Guid.TryParse(value, out var id)) return id;
        errors.Add(new FieldError(path, $"'{value}' is not a UUID."));
        return null;
    }
}
