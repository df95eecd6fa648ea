namespace Tally.Customers;

/// <summary>
/// Customers whose row this process has seen committed. Customer rows are never deleted, so a customer once
/// known stays known, and ingestion can skip creating the row. Only remembered after a commit; bounded (it
/// forgets everything when full, which costs one extra statement per customer afterwards, never correctness).
/// </summary>
public sealed class KnownCustomers(int capacity = 200_000)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(Guid TenantId, Guid CustomerId), byte> known = new();
    private int count;

    public bool Contains(Guid tenantId, Guid customerId) => known.ContainsKey((tenantId, customerId));

    public void Remember(Guid tenantId, Guid customerId)
    {
        if (!known.TryAdd((tenantId, customerId), 0)) return;
        if (Interlocked.Increment(ref count) <= capacity) return;
        known.Clear();
        Interlocked.Exchange(ref count, 0);
    }
}
