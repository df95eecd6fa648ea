using FsCheck.Xunit;
using NodaTime;
using Tally.Calendar;

namespace Tally.Tests.Calendar;

public class AnniversariesTests
{
    private static readonly DateTimeZone Sydney = DateTimeZoneProviders.Tzdb["Australia/Sydney"];
    private static readonly DateTimeZone SaoPaulo = DateTimeZoneProviders.Tzdb["America/Sao_Paulo"];

    private static DateTimeOffset At(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void The_join_date_is_the_local_date_in_the_program_timezone()
    {
        // 14:00Z on 31 March is already 1 April in Sydney.
        Assert.Equal(new LocalDate(2025, 4, 1), Anniversaries.JoinDate(At("2025-03-31T14:00:00Z"), Sydney));
        Assert.Equal(new LocalDate(2025, 3, 31), Anniversaries.JoinDate(At("2025-03-31T14:00:00Z"), DateTimeZone.Utc));
    }

    [Fact]
    public void The_next_anniversary_is_at_local_midnight_of_the_join_date()
    {
        var next = Anniversaries.NextAnniversary(At("2025-03-31T14:00:00Z"), Sydney, At("2026-01-01T00:00:00Z"));
        Assert.Equal(new LocalDate(2026, 4, 1), next.Date);
        Assert.Equal(1, next.Years);
        // 1 April 2026 is still daylight time in Sydney (+11).
        Assert.Equal(At("2026-03-31T13:00:00Z"), next.At);
    }

    [Theory]
    [InlineData(2025, 2, 28)]
    [InlineData(2027, 2, 28)]
    [InlineData(2028, 2, 29)]
    public void The_29th_of_February_falls_on_the_28th_in_other_years(int year, int month, int day)
    {
        Assert.Equal(new LocalDate(year, month, day), Anniversaries.InYear(new LocalDate(2024, 2, 29), year));
    }

    [Fact]
    public void A_birthday_on_a_leap_day_is_celebrated_every_year()
    {
        var dob = new LocalDate(2000, 2, 29);
        var due = Anniversaries.Due(dob, DateTimeZone.Utc, At("2026-01-01T00:00:00Z"), At("2029-01-01T00:00:00Z"));
        Assert.Equal([new LocalDate(2026, 2, 28), new LocalDate(2027, 2, 28), new LocalDate(2028, 2, 29)], due.Select(o => o.Date));
        Assert.Equal([26, 27, 28], due.Select(o => o.Years));
    }

    [Fact]
    public void Where_midnight_does_not_exist_the_day_starts_when_the_clocks_jump()
    {
        // São Paulo sprang forward at midnight on 4 November 2018: that day began at 01:00 local (-02:00).
        var next = Anniversaries.NextBirthday(new LocalDate(1990, 11, 4), SaoPaulo, At("2018-06-01T00:00:00Z"));
        Assert.Equal(At("2018-11-04T03:00:00Z"), next.At);
        Assert.Equal(28, next.Years);
    }

    [Fact]
    public void A_scheduler_that_was_down_runs_each_missed_occurrence_once()
    {
        var join = new LocalDate(2020, 6, 15);
        var down = Anniversaries.Due(join, Sydney, At("2022-01-01T00:00:00Z"), At("2024-12-31T00:00:00Z"));
        Assert.Equal([2, 3, 4], down.Select(o => o.Years));

        // Consecutive windows share no occurrence, the boundary belongs to the window that ends on it.
        var boundary = Anniversaries.StartOf(new LocalDate(2023, 6, 15), Sydney);
        Assert.Single(Anniversaries.Due(join, Sydney, At("2023-01-01T00:00:00Z"), boundary));
        Assert.Empty(Anniversaries.Due(join, Sydney, boundary, At("2023-12-31T00:00:00Z")));
    }

    [Fact]
    public void The_join_date_itself_is_not_an_anniversary()
    {
        var join = new LocalDate(2026, 1, 10);
        Assert.Empty(Anniversaries.Due(join, DateTimeZone.Utc, At("2026-01-01T00:00:00Z"), At("2026-12-31T00:00:00Z")));
        Assert.Equal(1, Anniversaries.Next(join, DateTimeZone.Utc, At("2026-01-01T00:00:00Z")).Years);
    }

    [Property(MaxTest = 200)]
    public void Consecutive_windows_together_list_each_occurrence_once(int dayOfYear, int birthYear, int[] cuts)
    {
        var origin = new LocalDate(1960 + Math.Abs(birthYear % 60), 1, 1).PlusDays(Math.Abs(dayOfYear % 366));
        var start = At("2020-01-01T00:00:00Z");
        var end = At("2030-01-01T00:00:00Z");
        var bounds = cuts.Select(c => start.AddHours(Math.Abs(c % 87_600))).Append(start).Append(end).Distinct().Order().ToList();

        var pieces = bounds.Zip(bounds.Skip(1)).SelectMany(w => Anniversaries.Due(origin, Sydney, w.First, w.Second)).ToList();
        var whole = Anniversaries.Due(origin, Sydney, start, end);
        Assert.Equal(whole, pieces);
        Assert.Equal(whole.Count, whole.Select(o => o.Date.Year).Distinct().Count());
    }

    [Theory]
    [InlineData("2021-02-27T23:59:59Z", 0)]
    [InlineData("2021-02-28T00:00:00Z", 1)]
    [InlineData("2024-02-28T12:00:00Z", 3)]
    [InlineData("2024-02-29T00:00:00Z", 4)]
    [InlineData("2019-01-01T00:00:00Z", 0)]
    public void Years_since_joining_count_whole_years_with_the_leap_day_rule(string now, int years)
    {
        Assert.Equal(years, Anniversaries.YearsSince(new LocalDate(2020, 2, 29), DateTimeZone.Utc, At(now)));
    }
}
