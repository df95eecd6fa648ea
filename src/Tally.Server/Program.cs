using System.Data.Common;
using Microsoft.AspNetCore.Diagnostics;
using Scalar.AspNetCore;
using Tally.Server.Customers;
using Tally.Server.Events;
using Tally.Server.Http;
using Tally.Server.Rules;
using Tally.Server.Segments;
using Tally.Server.Ledger;
using Tally.Server.Scheduling;
using Tally.Server.Storage;
using Tally.Server.Tenants;

if (Cli.IsCommand(args)) return await Cli.RunAsync(args);

// Configuration is read once at start. Reloading it on change would watch the content root and every folder under it,
// the data folder included (./data by default), and handle a file-system event for every write to the store's WAL.
var builder = WebApplication.CreateBuilder([.. args, "--hostBuilder:reloadConfigOnChange=false"]);
if (string.Equals(builder.Configuration["TALLY_LOG_FORMAT"], "json", StringComparison.OrdinalIgnoreCase))
{
    builder.Logging.ClearProviders().AddJsonConsole();
}

builder.WebHost.UseUrls(builder.Configuration["urls"] ?? builder.Configuration["ASPNETCORE_URLS"] ?? "http://localhost:5080");
builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 64L * 1024 * 1024);
builder.Services.ConfigureHttpJsonOptions(o => Tally.TallyJson.Configure(o.SerializerOptions));
builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
{
    var status = ctx.ProblemDetails.Status ?? ctx.HttpContext.Response.StatusCode;
    ctx.ProblemDetails.Extensions.TryAdd("code", Problems.CodeFor(status));
});
builder.Services.AddExceptionHandler<ExceptionProblems>();
builder.Services.AddOpenApi();
builder.AddTallyStore();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseApiKeys();
app.UseQueryText();

app.MapGet("/health", () => TypedResults.Ok(new { status = "ok" })).WithName("Health").WithSummary("200 once the server takes traffic.");
app.MapOpenApi();
app.MapScalarApiReference("/docs");
app.MapEvents();
app.MapCustomers();
app.MapTenants();
app.MapRules();
app.MapSegments();
app.MapLedger();
app.MapTestClock();

await app.PrepareStoreAsync();
await app.RunAsync();
return 0;

/// <summary>
/// The one place infrastructure exceptions become answers: a request the framework could not read is the
/// client's 4xx; a unique violation is a 409; anything else is a 500 problem (a bug, logged).
/// </summary>
internal sealed partial class ExceptionProblems(IProblemDetailsService problems, ILogger<ExceptionProblems> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        var status = exception switch
        {
            BadHttpRequestException bad => bad.StatusCode,
            DbException db when IsUniqueViolation(db) => StatusCodes.Status409Conflict,
            OperationCanceledException when http.RequestAborted.IsCancellationRequested => 499,
            _ => StatusCodes.Status500InternalServerError,
        };
        if (status == StatusCodes.Status500InternalServerError) LogUnhandled(exception, http.Request.Path);
        http.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = { Status = status, Detail = status < 500 ? exception.Message : "An unexpected error occurred; it was logged." },
        });
    }

    private static bool IsUniqueViolation(DbException e) =>
        e is Npgsql.PostgresException { SqlState: "23505" } || e is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 19 };

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error on {Path}")]
    private partial void LogUnhandled(Exception ex, string path);
}

/// <summary>Visible to the test host.</summary>
public partial class Program;
