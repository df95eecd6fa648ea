using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using NodaTime.Text;
using Tally.Ledger;
using Tally.Rules;
using Tally.Server.Http;

namespace Tally.Server.Scheduling;

public sealed record TestClockView(DateTimeOffset Now);

public sealed record TestClockMove(string? AdvanceBy, DateTimeOffset? Now);

/// <summary>GET/POST /api/v1/test-clock: only when the server runs on the <see cref="TestClock"/> (TALLY_TEST_CLOCK=true); 404 otherwise.</summary>
public static class TestClockEndpoints
{
    public static void MapTestClock(this IEndpointRouteBuilder app)
    {
        var clock = app.MapGroup("/api/v1/test-clock").WithTags("Test clock");
        clock.MapGet("/", Get).WithName("GetTestClock").WithSummary("The server's now (TALLY_TEST_CLOCK=true only).");
        clock.MapPost("/", Move).WithName("MoveTestClock")
            .WithSummary("Move the clock forward by advanceBy (ISO period) or to now; answers once everything due has run.");
    }

    private static Results<Ok<TestClockView>, ProblemHttpResult> Get(TimeProvider time) =>
        time is TestClock ? TypedResults.Ok(new TestClockView(time.GetUtcNow())) : Problems.NotFound("The test clock");

    private static async Task<Results<Ok<TestClockView>, ProblemHttpResult>> Move(HttpContext http, TimeProvider time, CancellationToken ct)
    {
        if (time is not TestClock clock) return Problems.NotFound("The test clock");
        var services = http.RequestServices;
        var body = await JsonBody.ReadAsync<TestClockMove>(http.Request, services.GetRequiredService<IOptions<TallyOptions>>().Value.MaxBodyBytes, ct);
        if (body.Problem is not null) return body.Problem;
        var move = body.Value!;
        var now = clock.GetUtcNow();
        DateTimeOffset target;
        if (move.AdvanceBy is { } by && move.Now is null)
        {
            var parsed = PeriodPattern.NormalizingIso.Parse(by);
            if (!parsed.Success) return Problems.Validation("$.advanceBy", $"'{by}' is not an ISO 8601 period such as P30D or PT1H.");
            if (Periods.IsTooLong(parsed.Value)) return Problems.Validation("$.advanceBy", Periods.TooLong);
            target = ProgramSettings.Default.Add(now, parsed.Value); // UTC calendar arithmetic
            if (target >= Periods.Latest) return Problems.Validation("$.advanceBy", Periods.TooLate);
            if (target <= now) return Problems.Validation("$.advanceBy", "The clock only moves forward.");
        }
        else if (move.Now is { } at && move.AdvanceBy is null)
        {
            if (at < now) return Problems.Validation("$.now", "The clock only moves forward.");
            if (at >= Periods.Latest) return Problems.Validation("$.now", Periods.TooLate);
            target = at;
        }
        else
        {
            return Problems.Validation("$", "Send exactly one of advanceBy or now.");
        }

        clock.MoveTo(target);
        var runner = services.GetService<SchedulerRunner>();
        if (runner is not null) await runner.CatchUpAsync(ct);
        services.GetRequiredService<SchedulerSignal>().Notify();
        return TypedResults.Ok(new TestClockView(clock.GetUtcNow()));
    }
}
