using Tally.Tenants;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Tenants;

public sealed class RevocationRaceOnSqlite() : RevocationRaceTests("sqlite");

public sealed class RevocationRaceOnPostgres() : RevocationRaceTests("postgres");

/// <summary>Revocations racing on two nodes for every admin key at once leave exactly one of them working.</summary>
public abstract class RevocationRaceTests(string kind) : MigratedStoreTest(kind)
{
    [Fact]
    public async Task Racing_revocations_of_every_admin_key_leave_exactly_one()
    {
        var nodes = new[] { new TenantDirectory(Db, TimeProvider.System), new TenantDirectory(Db, TimeProvider.System) };
        var first = await nodes[0].CreateTenantAsync("Operators", KeyRole.Admin, null, withSecret: false, CancellationToken.None);
        var working = new List<IssuedKey> { first };
        for (var round = 0; round < 10; round++)
        {
            for (var i = 0; i < 2; i++)
                working.Add((await nodes[i].CreateKeyAsync(first.TenantId, KeyRole.Admin, withSecret: false, $"round {round}", CancellationToken.None))!);

            var outcomes = await Task.WhenAll(working.Select((k, i) =>
                Task.Run(() => nodes[i % 2].RevokeKeyAsync(k.TenantId, k.KeyId, CancellationToken.None))));

            Assert.Equal(working.Count - 1, outcomes.Count(o => o == Revocation.Revoked));
            var kept = working[Array.IndexOf(outcomes, Revocation.LastAdminKey)];
            Assert.Equal(Revocation.LastAdminKey, Assert.Single(outcomes, o => o != Revocation.Revoked));
            var listed = (await nodes[0].ListKeysAsync(first.TenantId, CancellationToken.None))!;
            Assert.Equal([kept.KeyId], listed.Where(k => k.RevokedAt is null).Select(k => k.KeyId));
            Assert.NotNull(await nodes[1].RecogniseAsync(kept.ApiKey, null, null, CancellationToken.None));
            working = [kept];
        }
    }
}
