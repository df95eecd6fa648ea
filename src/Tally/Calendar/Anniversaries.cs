using NodaTime;

namespace Tally.Calendar;

/// <summary>A yearly date falling due: the local date, the instant its day starts in the program timezone, and which year it is.</summary>
public sealed record Occurrence(LocalDate Date, DateTimeOffset At, int Years);

/// <summary>
/// Yearly dates (join anniversaries, birthdays) in the program timezone. An occurrence is due at the start
/// of its local day; a 29 February falls on 28 February in other years.
/// </summary>
public static class Anniversaries
{
    /// <summary>The local join date: the anniversary date of a customer created at <paramref name="joinedAt"/>.</summary>
    public static LocalDate JoinDate(DateTimeOffset joinedAt, DateTimeZone zone) =>
        Instant.FromDateTimeOffset(joinedAt).InZone(zone).Date;

    /// <summary>The date's occurrence in <paramref name="year"/>.</summary>
    public static LocalDate InYear(LocalDate date, int year) =>
        new(year, date.Month, Math.Min(date.Day, CalendarSystem.Iso.GetDaysInMonth(year, date.Month)));

    /// <summary>The start of the local day as an instant; where midnight does not exist (a DST gap) the day starts at the gap's end.</summary>
    public static DateTimeOffset StartOf(LocalDate date, DateTimeZone zone) => zone.AtStartOfDay(date).ToDateTimeOffset();

    /// <summary>The first occurrence of <paramref name="origin"/> (a join date or date of birth) strictly after <paramref name="after"/>.</summary>
    public static Occurrence Next(LocalDate origin, DateTimeZone zone, DateTimeOffset after)
    {
        var year = Math.Max(origin.Year + 1, Instant.FromDateTimeOffset(after).InZone(zone).Year - 1);
        while (true)
        {
            var o = At(origin, zone, year++);
            if (o.At > after) return o;
        }
    }

    public static Occurrence NextAnniversary(DateTimeOffset joinedAt, DateTimeZone zone, DateTimeOffset after) =>
        Next(JoinDate(joinedAt, zone), zone, after);

    public static Occurrence NextBirthday(LocalDate dateOfBirth, DateTimeZone zone, DateTimeOffset after) =>
        Next(dateOfBirth, zone, after);

    /// <summary>
    /// The occurrences due in (from, to], oldest first: a scheduler that was down passes the whole window it
    /// missed and runs each once; consecutive windows never share an occurrence.
    /// </summary>
    public static IReadOnlyList<Occurrence> Due(LocalDate origin, DateTimeZone zone, DateTimeOffset from, DateTimeOffset to)
    {
        var result = new List<Occurrence>();
        if (to <= from) return result;
        for (var o = Next(origin, zone, from); o.At <= to; o = At(origin, zone, o.Date.Year + 1))
            result.Add(o);
        return result;
    }

    /// <summary>Whole years completed at <paramref name="now"/>, counting the 28 February rule: years since joining, or age.</summary>
    public static int YearsSince(LocalDate origin, DateTimeZone zone, DateTimeOffset now)
    {
        var today = Instant.FromDateTimeOffset(now).InZone(zone).Date;
        var years = today.Year - origin.Year;
        if (years > 0 && today < InYear(origin, today.Year)) years--;
        return Math.Max(0, years);
    }

    private static Occurrence At(LocalDate origin, DateTimeZone zone, int year)
    {
        var date = InYear(origin, year);
        return new(date, StartOf(date, zone), year - origin.Year);
    }
}
