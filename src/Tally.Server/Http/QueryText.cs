namespace Tally.Server.Http;

/// <summary>
/// Query values are text handed to the store like any other: one that holds a NUL character (<c>%00</c>) is a 400 naming
/// the parameter, as a NUL in a body is (<see cref="JsonBody"/>), since PostgreSQL refuses such text outright.
/// </summary>
public static class QueryText
{
    public static void UseQueryText(this WebApplication app) => app.Use(async (ctx, next) =>
    {
        foreach (var (name, values) in ctx.Request.Query)
        {
            if (name.Contains('\0', StringComparison.Ordinal) || values.Any(v => v?.Contains('\0', StringComparison.Ordinal) == true))
            {
                await Problems.Validation(name.Replace("\0", "%00", StringComparison.Ordinal), "Text must not contain the NUL character (%00).").ExecuteAsync(ctx);
                return;
            }
        }

        await next(ctx);
    });
}
