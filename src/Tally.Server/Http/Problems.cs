using Microsoft.AspNetCore.Http.HttpResults;

namespace Tally.Server.Http;

/// <summary>One bad field of a request: its JSON path and what is wrong with it.</summary>
public sealed record FieldError(string Path, string Message);

/// <summary>
/// Every error answer is an RFC 9457 problem with a stable machine-readable <c>code</c>; 400s also carry
/// <c>errors</c>, one per bad field, named by JSON path.
/// </summary>
public static class Problems
{
    public static ProblemHttpResult Validation(IReadOnlyList<FieldError> errors) =>
        Problem(StatusCodes.Status400BadRequest, "validation_failed", "The request is not valid.",
            errors.Count == 1 ? errors[0].Message : $"{errors.Count} fields are not valid.", errors);

    public static ProblemHttpResult Validation(string path, string message) => Validation([new FieldError(path, message)]);

    public static ProblemHttpResult MalformedJson(string path, string message) =>
        Problem(StatusCodes.Status400BadRequest, "malformed_json", "The body is not valid JSON.", message, [new FieldError(path, message)]);

    public static ProblemHttpResult NotFound(string what) =>
        Problem(StatusCodes.Status404NotFound, "not_found", "Not found.", $"{what} was not found.");

    public static ProblemHttpResult Conflict(string detail) =>
        Problem(StatusCodes.Status409Conflict, "conflict", "Conflict.", detail);

    public static ProblemHttpResult Unprocessable(string code, string title, string detail, IDictionary<string, object?>? extra = null) =>
        Problem(StatusCodes.Status422UnprocessableEntity, code, title, detail, null, extra);

    public static ProblemHttpResult Forbidden(string detail) =>
        Problem(StatusCodes.Status403Forbidden, "forbidden", "Forbidden.", detail);

    public static ProblemHttpResult Problem(
        int status, string code, string title, string detail, IReadOnlyList<FieldError>? errors = null, IDictionary<string, object?>? extra = null)
    {
        var extensions = new Dictionary<string, object?> { ["code"] = code };
        if (errors is not null) extensions["errors"] = errors;
        if (extra is not null)
        {
            foreach (var (k, v) in extra) extensions[k] = v;
        }

        return TypedResults.Problem(detail, statusCode: status, title: title, type: $"https://tally.dev/problems/{code.Replace('_', '-')}", extensions: extensions);
    }

    /// <summary>The code for a bare status (unmatched route, wrong method, framework-level rejections).</summary>
    public static string CodeFor(int status) => status switch
    {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        503 => "unavailable",
        _ => status >= 500 ? "internal_error" : "error",
    };
}
