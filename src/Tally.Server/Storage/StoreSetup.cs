using Microsoft.Extensions.Options;
using Tally.Events;
using Tally.Ledger;
using Tally.Scheduling;
using Tally.Server.Events;
using Tally.Server.Scheduling;
using Tally.Storage;
using Tally.Tenants;

namespace Tally.Server.Storage;

public static class StoreSetup
{
    /// <summary>The store, the write queue and the worker: SQLite in TALLY_DATA_DIR unless ConnectionStrings:Postgres is set.</summary>
    public static void AddTallyStore(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TallyOptions>().Bind(builder.Configuration.GetSection("Tally")).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.TryAddClock(builder.Configuration);
        builder.Services.AddSingleton(sp => Open(builder.Configuration, sp.GetRequiredService<IOptions<TallyOptions>>().Value));
        builder.Services.AddSingleton(sp => new WriteQueue(
            sp.GetRequiredService<Database>(), sp.GetRequiredService<ILogger<WriteQueue>>(), sp.GetRequiredService<IOptions<TallyOptions>>().Value.Writers));
        builder.Services.AddSingleton<Tally.Tenants.TenantDirectory>();
        builder.Services.AddSingleton<EventProcessor>();
        builder.Services.AddSingleton(new Tally.Customers.KnownCustomers());
        builder.Services.AddSingleton<EventSignal>();
        if (builder.Configuration.GetValue("Tally:RunWorker", true)) builder.Services.AddHostedService<EventWorker>();
        builder.Services.AddHostedService<CustomerEventIndexer>();

        // Rules: the live rule sets, their assessment in the worker, trigger jobs, the webhook outbox sender.
        builder.Services.AddSingleton<Tally.Rules.RuleBook>();
        builder.Services.AddSingleton<Tally.Rules.RuleProcessing>();
        builder.Services.AddSingleton<Tally.Scheduling.IJobHandler, Tally.Rules.TriggerJobs>();
        builder.Services.AddOptions<Webhooks.WebhookOptions>().Bind(builder.Configuration.GetSection("Tally:Webhooks")).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHttpClient(Webhooks.WebhookSender.ClientName);
        if (builder.Configuration.GetValue("Tally:Webhooks:Send", true)) builder.Services.AddHostedService<Webhooks.WebhookSender>();

        // ---- Ledger: scheduled jobs (settle, calendar) and the scheduler that runs them ----
        builder.Services.AddSingleton<IJobHandler, SettleJobHandler>();
        builder.Services.AddSingleton<IJobHandler, CalendarJobHandler>();
        builder.Services.AddSingleton<SchedulerSignal>();
        builder.Services.AddSingleton<SchedulerRunner>();
        if (builder.Configuration.GetValue("Tally:RunScheduler", true)) builder.Services.AddHostedService(sp => sp.GetRequiredService<SchedulerRunner>());
    }

    /// <summary>THE clock of the server: the movable <see cref="TestClock"/> when TALLY_TEST_CLOCK=true (never in production), else the system's.</summary>
    private static void TryAddClock(this IServiceCollection services, IConfiguration configuration)
    {
        if (services.Any(d => d.ServiceType == typeof(TimeProvider))) return;
        if (string.Equals(configuration["TALLY_TEST_CLOCK"], "true", StringComparison.OrdinalIgnoreCase)) services.AddSingleton<TimeProvider>(new TestClock());
        else services.AddSingleton(TimeProvider.System);
    }

    public static Database Open(IConfiguration configuration, TallyOptions options)
    {
        var postgres = configuration.GetConnectionString("Postgres");
        if (!string.IsNullOrWhiteSpace(postgres)) return Database.Postgres(postgres);
        var dir = configuration["TALLY_DATA_DIR"] is { Length: > 0 } fromEnv ? fromEnv : options.DataDir;
        return Database.Sqlite(dir, options.SqliteCacheMb);
    }

    /// <summary>Migrates the schema and, on a first start, creates the default tenant with its admin key.</summary>
    public static async Task PrepareStoreAsync(this WebApplication app)
    {
        var db = app.Services.GetRequiredService<Database>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tally.Store");
        await Migrations.MigrateAsync(db, logger, app.Lifetime.ApplicationStopping);
        var tenants = app.Services.GetRequiredService<Tally.Tenants.TenantDirectory>();
        if (await tenants.AnyAsync(app.Lifetime.ApplicationStopping)) return;
        var bootstrap = app.Configuration["TALLY_BOOTSTRAP_API_KEY"];
        var key = await tenants.CreateFirstTenantAsync("default", KeyRole.Admin, string.IsNullOrWhiteSpace(bootstrap) ? null : bootstrap.Trim(), app.Lifetime.ApplicationStopping);
        if (key is null) return; // another node, starting on the same empty database, created it first
        if (string.IsNullOrWhiteSpace(bootstrap))
        {
            // Printed once, on the console only: it is stored hashed and cannot be shown again.
            Console.WriteLine($"Created the default tenant {key.TenantId}. Its admin API key (shown once): {key.ApiKey}");
        }
        else
        {
            logger.LogInformation("Created the default tenant {TenantId} with the bootstrap API key", key.TenantId);
        }
    }
}
