using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace Tally.Tests.Infrastructure;

/// <summary>The real server as its own OS process, so a test can kill it with SIGKILL and start it again.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>Every server a test started: killed when the test run ends, so a failing test never leaves one running.</summary>
    private static readonly ConcurrentDictionary<int, Process> Started = new();

    private readonly Process process;

    static ServerProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var p in Started.Values)
        {
            try
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }
    };
    private readonly ConcurrentQueue<string> output = new();

    private ServerProcess(Process process, Uri address)
    {
        this.process = process;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>The last lines the server wrote (warnings and errors), for a failing assertion's message.</summary>
    public string Output => string.Join('\n', output);

    public static async Task<ServerProcess> StartAsync(TestStore store, bool runWorker, int port = 0, IReadOnlyDictionary<string, string>? environment = null)
    {
        port = port == 0 ? FreePort() : port;
        var info = StartInfo(store, "--urls", $"http://127.0.0.1:{port}");
        info.Environment["TALLY_BOOTSTRAP_API_KEY"] = TallyApp.AdminKey;
        info.Environment["Tally__RunWorker"] = runWorker ? "true" : "false";
        info.Environment["Tally__WorkerPollInterval"] = "00:00:00.050";
        info.Environment["DOTNET_gcServer"] = "0";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var p = Process.Start(info)!;
        Started[p.Id] = p;
        var server = new ServerProcess(p, new Uri($"http://127.0.0.1:{port}"));
        p.OutputDataReceived += (_, e) => server.Keep(e.Data);
        p.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();

        using var probe = new HttpClient { BaseAddress = server.Address };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (p.HasExited) throw new InvalidOperationException($"The server exited with {p.ExitCode} while starting:\n{server.Output}");
            try
            {
                if ((await probe.GetAsync("/health")).StatusCode == HttpStatusCode.OK) return server;
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        await server.DisposeAsync();
        throw new TimeoutException("The server did not start within 60 s.");
    }

    /// <summary>The server binary with <paramref name="args"/>, pointed at <paramref name="store"/>, its output redirected.</summary>
    public static ProcessStartInfo StartInfo(TestStore store, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Tally.Server.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var (key, value) in store.Settings) info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        return info;
    }

    public HttpClient Api()
    {
        var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TallyApp.AdminKey);
        return client;
    }

    /// <summary>SIGKILL: no shutdown code runs, nothing is flushed that was not already durable.</summary>
    public void Kill()
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    public ValueTask DisposeAsync()
    {
        if (!process.HasExited) Kill();
        process.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        output.Enqueue(line);
        while (output.Count > 400) output.TryDequeue(out _);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
