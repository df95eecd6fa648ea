using System.Collections.Concurrent;
using HandlebarsDotNet;

namespace Tally.Rules;

/// <summary>Handlebars templates of sms, email and webhook outcomes.</summary>
internal static class Templates
{
    // SMS text, subjects and JSON webhook bodies must not be HTML-escaped; email bodies are HTML and must be.
    private static readonly IHandlebars Raw = Handlebars.Create(new HandlebarsConfiguration { NoEscape = true });
    private static readonly IHandlebars Html = Handlebars.Create();

    // Compiling a template costs far more than evaluating a rule, and rule sets repeat the same few templates:
    // cache by text. Bounded in practice by the number of distinct templates stored.
    private static readonly ConcurrentDictionary<(string Text, bool Html), Lazy<HandlebarsTemplate<object, object>>> Cache = new();

    public static string? ParseError(string text)
    {
        try
        {
            _ = Get(text, html: false);
            return null;
        }
        catch (HandlebarsException e)
        {
            Cache.TryRemove((text, false), out _);
            return e.Message;
        }
    }

    public static HandlebarsTemplate<object, object> Get(string text, bool html) =>
        Cache.GetOrAdd((text, html), k => new(() => (k.Html ? Html : Raw).Compile(k.Text))).Value;

    public static string Render(string text, bool html, object data) => Get(text, html)(data);
}
