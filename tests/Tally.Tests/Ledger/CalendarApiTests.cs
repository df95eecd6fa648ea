using System.Net;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Ledger;

public sealed class CalendarApiOnSqlite(SqliteClockApp app) : CalendarApiTests<SqliteClockApp>(app);

public sealed class CalendarApiOnPostgres(PostgresClockApp app) : CalendarApiTests<PostgresClockApp>(app);

/// <summary>Calendar dates in the program timezone, on a server of its own so the test can set the clock to a date.</summary>
public abstract class CalendarApiTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : ClockApp
{
    private readonly HttpClient api = app.Api();

    private async Task MoveTo(string instant)
    {
        var (status, body) = await api.PostJson("/api/v1/test-clock", new { now = instant });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
    }

    private async Task<int> CalendarEvents(Guid customer)
    {
        var (_, events) = await api.GetJson($"/api/v1/customers/{customer}/events");
        return events!["items"]!.AsArray().Count(e => (string?)e!["type"] == "calendar" && (string?)e["nameSpace"] == "birthday");
    }

    [Fact]
    public async Task A_29_February_birthday_falls_on_28_February_at_local_midnight_in_a_common_year()
    {
        Assert.Equal(HttpStatusCode.OK, (await api.SendJson(HttpMethod.Put, "/api/v1/program", new { timezone = "Australia/Sydney" })).Status);
        await MoveTo("2027-02-20T00:00:00Z");
        var customer = Guid.NewGuid();
        await api.SendJson(HttpMethod.Put, $"/api/v1/customers/{customer}", new { firstName = "Leap", dateOfBirth = "2000-02-29" });
        await MoveTo("2027-02-20T00:00:01Z"); // plans the new customer's calendar

        await MoveTo("2027-02-27T12:59:00Z"); // 23:59 on 27 February in Sydney (UTC+11)
        Assert.Equal(0, await CalendarEvents(customer));

        await MoveTo("2027-02-27T13:00:01Z"); // just after midnight, 28 February, Sydney
        Assert.Equal(1, await CalendarEvents(customer));

        await MoveTo("2027-03-02T00:00:00Z");
        Assert.Equal(1, await CalendarEvents(customer));
    }
}
