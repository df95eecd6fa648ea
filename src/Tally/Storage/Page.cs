namespace Tally.Storage;

/// <summary>A page of a newest-first listing; Next is the cursor for the following page, null at the end.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next)
{
    /// <summary>Builds a page from up to limit+1 rows: the extra row only tells that there is more.</summary>
    public static Page<T> Of(List<T> rows, int limit, Func<T, long> position)
    {
        if (rows.Count <= limit) return new Page<T>(rows, null);
        rows.RemoveAt(rows.Count - 1);
        return new Page<T>(rows, position(rows[^1]).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
