using Microsoft.Extensions.Configuration;
using Tally.Tests.Infrastructure;

namespace Tally.Tests.Storage;

public sealed class ConfigurationTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public void Configuration_files_are_read_once_and_not_watched()
    {
        // A watched configuration file watches the content root and every folder under it, the default data folder
        // included: every write to the store's WAL would become a file-system event for the server to handle.
        var root = Assert.IsAssignableFrom<IConfigurationRoot>(app.Services.GetService(typeof(IConfiguration)));
        var files = root.Providers.OfType<FileConfigurationProvider>().ToList();

        Assert.Contains(files, f => f.Source.Path == "appsettings.json");
        Assert.All(files, f => Assert.False(f.Source.ReloadOnChange, $"{f.Source.Path} is watched"));
    }
}
