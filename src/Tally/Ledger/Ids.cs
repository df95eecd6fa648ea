using System.Security.Cryptography;
using System.Text;

namespace Tally.Ledger;

// Ids are derived from the movement key rather than drawn at random: the core stays pure, and replaying
// a movement produces the same primary keys, so the store rejects the duplicate instead of double-posting.
internal static class Ids
{
    /// <summary>
    /// A customer's id for a ledger row (a lot, an outbox event): its first eight bytes are the customer's, the rest a
    /// hash of <paramref name="parts"/>. So a customer's rows sit side by side in the indexes keyed by id, and a movement
    /// that writes ten of them dirties one page of each such index instead of ten random ones.
    /// </summary>
    public static Guid ForCustomer(Guid customerId, params string[] parts)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(customerId.ToString("N") + "\n" + string.Join('\n', parts)), hash);
        var bytes = hash[..16];
        Span<byte> customer = stackalloc byte[16];
        customerId.TryWriteBytes(customer, bigEndian: true, out _);
        customer[..8].CopyTo(bytes);
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // UUID version 8: custom, name-based
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }
}
