using NodaTime;
using Tally.Ledger;

namespace Tally.Tests.Ledger;

public class ProgramSettingsTests
{
    [Fact]
    public void An_empty_document_gives_the_defaults()
    {
        var s = ProgramSettings.Parse("{}").Settings!;
        Assert.Equal(DateTimeZone.Utc, s.TimeZone);
        Assert.Equal(ExpiryMode.None, s.ExpiryMode);
        Assert.Equal(Period.Zero, s.PendingFor);
        Assert.Equal(NegativeBalance.Clamp, s.NegativeBalance);
        Assert.Empty(s.Tiers);
        Assert.Equal(s.ToJson(), ProgramSettings.Parse(s.ToJson()).Settings!.ToJson());
    }

    [Fact]
    public void A_full_document_parses_and_writes_back_the_same()
    {
        const string json = """
            {"timezone":"Australia/Sydney","expiry":{"mode":"aging","after":"P12M"},"pendingFor":"P14D",
             "negativeBalance":"allow","tiers":[{"name":"Silver","threshold":0},{"name":"Gold","threshold":1000}],
             "tierBasis":{"measure":"spend","period":"lifetime"},"reminders":{"expiryBefore":"P30D","tierDowngradeBefore":"P7D"}}
            """;
        var parsed = ProgramSettings.Parse(json);
        Assert.Empty(parsed.Errors);
        var s = parsed.Settings!;
        Assert.Equal("Australia/Sydney", s.TimeZone.Id);
        Assert.Equal(ExpiryMode.Aging, s.ExpiryMode);
        Assert.Equal(Period.FromMonths(12), s.ExpiryAfter);
        Assert.Equal(Period.FromDays(14), s.PendingFor);
        Assert.Equal(NegativeBalance.Allow, s.NegativeBalance);
        Assert.Equal(["Silver", "Gold"], s.Tiers.Select(t => t.Name));
        Assert.Equal(TierMeasure.Spend, s.TierMeasure);
        Assert.Null(s.TierPeriod);
        Assert.Equal(Period.FromDays(7), s.TierDowngradeReminderBefore);
        Assert.Equal(s.ToJson(), ProgramSettings.Parse(s.ToJson()).Settings!.ToJson());
    }

    [Theory]
    [InlineData("""{"timezone":"Mars/Olympus"}""", "$.timezone")]
    [InlineData("""{"timezone":3}""", "$.timezone")]
    [InlineData("""{"expiry":{"mode":"sometimes","after":"P1M"}}""", "$.expiry.mode")]
    [InlineData("""{"expiry":{"mode":"aging"}}""", "$.expiry.after")]
    [InlineData("""{"expiry":{"mode":"aging","after":"twelve months"}}""", "$.expiry.after")]
    [InlineData("""{"expiry":{"mode":"inactivity","after":"P0D"}}""", "$.expiry.after")]
    [InlineData("""{"expiry":{"mode":"aging","after":"P1M","when":"now"}}""", "$.expiry.when")]
    [InlineData("""{"pendingFor":"-P1D"}""", "$.pendingFor")]
    [InlineData("""{"expiry":{"mode":"aging","after":"P101Y"}}""", "$.expiry.after")]
    [InlineData("""{"expiry":{"mode":"aging","after":"P9999999Y"}}""", "$.expiry.after")]
    [InlineData("""{"pendingFor":"PT99999999H"}""", "$.pendingFor")]
    [InlineData("""{"tierBasis":{"period":"P1201M"}}""", "$.tierBasis.period")]
    [InlineData("""{"reminders":{"expiryBefore":"P36700D"}}""", "$.reminders.expiryBefore")]
    [InlineData("""{"negativeBalance":"sometimes"}""", "$.negativeBalance")]
    [InlineData("""{"tiers":{}}""", "$.tiers")]
    [InlineData("""{"tiers":[{"name":"A","threshold":0},{"name":"a","threshold":10}]}""", "$.tiers[1].name")]
    [InlineData("""{"tiers":[{"name":"A","threshold":10},{"name":"B","threshold":10}]}""", "$.tiers[1].threshold")]
    [InlineData("""{"tiers":[{"name":"A","threshold":-1}]}""", "$.tiers[0].threshold")]
    [InlineData("""{"tiers":[{"threshold":1}]}""", "$.tiers[0].name")]
    [InlineData("""{"tiers":[{"name":"A","threshold":"1"}]}""", "$.tiers[0].threshold")]
    [InlineData("""{"tierBasis":{"measure":"visits"}}""", "$.tierBasis.measure")]
    [InlineData("""{"tierBasis":{"period":"forever"}}""", "$.tierBasis.period")]
    [InlineData("""{"reminders":{"expiryBefore":"soon"}}""", "$.reminders.expiryBefore")]
    [InlineData("""{"colour":"red"}""", "$.colour")]
    [InlineData("""[]""", "$")]
    [InlineData("""{"timezone":""", "$")]
    public void An_invalid_document_names_the_path_of_the_problem(string json, string path)
    {
        var parsed = ProgramSettings.Parse(json);
        Assert.Null(parsed.Settings);
        Assert.Contains(parsed.Errors, e => e.Path == path);
    }

    [Fact]
    public void Every_error_is_reported_not_only_the_first()
    {
        var parsed = ProgramSettings.Parse("""{"timezone":"Nowhere","negativeBalance":"x","tiers":[{"name":"A","threshold":5},{"name":"B","threshold":1}],"extra":1}""");
        Assert.Equal(["$.extra", "$.timezone", "$.negativeBalance", "$.tiers[1].threshold"], parsed.Errors.Select(e => e.Path));
    }

    [Fact]
    public void Periods_of_up_to_a_hundred_years_are_accepted_and_can_be_added_to_the_latest_instant()
    {
        var parsed = ProgramSettings.Parse("""{"expiry":{"mode":"aging","after":"P100Y"},"pendingFor":"P1200M","tierBasis":{"period":"P36600D"}}""");
        Assert.Empty(parsed.Errors);
        var s = parsed.Settings!;
        var latest = Tally.Rules.Periods.Latest.AddTicks(-1);
        Assert.True(s.Add(s.Add(latest, s.ExpiryAfter), s.PendingFor) > latest);
        Assert.True(s.Add(latest, s.TierPeriod!) > latest);
    }

    [Fact]
    public void The_first_tier_threshold_may_be_zero()
    {
        Assert.True(ProgramSettings.Parse("""{"tiers":[{"name":"Base","threshold":0}]}""").IsValid);
    }

    [Theory]
    // 2026-01-30 13:30Z is 31 January 00:30 in Sydney: a month later is 28 February local, a day before UTC's answer.
    [InlineData("Australia/Sydney", "2026-01-30T13:30:00Z", "P1M", "2026-02-27T13:30:00Z")]
    [InlineData("UTC", "2026-01-30T13:30:00Z", "P1M", "2026-02-28T13:30:00Z")]
    // Across Sydney's DST end (5 April 2026), wall-clock time is kept: 09:00 local stays 09:00 local.
    [InlineData("Australia/Sydney", "2026-03-01T22:00:00Z", "P2M", "2026-05-01T23:00:00Z")]
    public void Periods_are_calendar_arithmetic_in_the_program_timezone(string zone, string at, string period, string expected)
    {
        var s = new ProgramSettings { TimeZone = DateTimeZoneProviders.Tzdb[zone] };
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture),
            s.Add(DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture), Given.P(period)));
    }
}
