using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Tally.Server.Http;

/// <summary>The query parameters of every cursor-paged listing: limit (1 to 500, default 50) and the cursor the previous page returned.</summary>
public static class Paging
{
    public static bool TryRead(int? limit, string? cursor, out int n, out long? before, out ProblemHttpResult problem)
    {
        problem = null!;
        n = limit ?? 50;
        before = null;
        if (n is < 1 or > 500)
        {
            problem = Problems.Validation("limit", "Between 1 and 500.");
            return false;
        }

        if (string.IsNullOrEmpty(cursor)) return true;
        if (long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var position))
        {
            before = position;
            return true;
        }

        problem = Problems.Validation("cursor", "Not a cursor this API returned.");
        return false;
    }
}
