using System.Security.Cryptography;
using System.Text;

namespace Tally.Rules;

/// <summary>
/// Voucher codes from a pattern: # is a digit, ? a letter, anything else is kept. The code is a pure function of
/// the pattern and the seed, so re-evaluating the same event issues the same code.
/// </summary>
public static class VoucherCode
{
    public const string DefaultPattern = "????-????";

    // No I or O: they read as 1 and 0 when a customer types the code.
    private const string Letters = "ABCDEFGHJKLMNPQRSTUVWXYZ";

    public static bool IsPattern(string pattern) => pattern.Contains('#', StringComparison.Ordinal) || pattern.Contains('?', StringComparison.Ordinal);

    public static string Generate(string pattern, string seed)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes(seed));
        var code = new StringBuilder(pattern.Length);
        var next = 0;
        foreach (var ch in pattern)
        {
            if (ch is not ('#' or '?'))
            {
                code.Append(ch);
                continue;
            }
            if (next == bytes.Length)
            {
                bytes = SHA256.HashData(bytes);
                next = 0;
            }
            var b = bytes[next++];
            code.Append(ch == '#' ? (char)('0' + (b % 10)) : Letters[b % Letters.Length]);
        }
        return code.ToString();
    }
}
