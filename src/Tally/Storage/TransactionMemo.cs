using System.Data.Common;
using System.Runtime.CompilerServices;

namespace Tally.Storage;

/// <summary>
/// Values remembered for the length of one write-queue transaction (e.g. a tenant's rule-set version, read once for a
/// whole batch of events). The write queue begins and ends each memo around its transaction; outside one there is
/// none, so nothing is remembered. Keyed by the transaction object, which Npgsql reuses: hence the explicit end.
/// </summary>
public static class TransactionMemo
{
    private static readonly ConditionalWeakTable<DbTransaction, Dictionary<object, object>> Memos = [];

    public static void Begin(DbTransaction tx) => Memos.AddOrUpdate(tx, []);

    public static void End(DbTransaction tx) => Memos.Remove(tx);

    /// <summary>The memo of a write-queue transaction; null for any other transaction, or none.</summary>
    public static Dictionary<object, object>? Of(DbTransaction? tx) => tx is not null && Memos.TryGetValue(tx, out var memo) ? memo : null;
}
