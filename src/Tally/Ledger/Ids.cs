using System.Security.Cryptography;
using System.Text;

namespace Tally.Ledger;

// Ids are derived from the movement key rather than drawn at random: the core stays pure, and replaying
// a movement produces the same primary keys, so the store rejects the duplicate instead of double-posting.
internal static class Ids
{
    public static Guid Of(params string[] parts)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', parts)), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // UUID version 8: custom, name-based
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }
}
