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
        try
        {
            var value = JsonSerializer.Deserialize<T>(bytes, Tally.TallyJson.Options);
            if (value is null) return new Body<T>(default, default, Problems.Validation("$", "The body must be a JSON object."));
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
        var mismatches = JsonShape.Mismatches(doc.RootElement, type, Tally.TallyJson.Options);
        return mismatches.Count > 0 ? Problems.Validation(mismatches) : Problems.Validation(path, FirstSentence(ex.Message));
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
