using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace UserLB.Lab.Tests;

/// <summary>
/// A lab (lab/topo.sh, namespaces PREFIX*) held open across several userlb processes, for tests that stop and start
/// userlb or drive traffic step by step; with <c>ipv6</c>, IPv6 beside IPv4 (lab/topo.sh's addresses). Removes everything
/// it made on Dispose. Needs root.
/// </summary>
public sealed class LabSession : IDisposable
{
    private readonly List<Process> _processes = [];
    private readonly FileStream _lock;

    public LabSession(string prefix, string kind = "veth", bool ipv6 = false)
    {
        _lock = LiveLab.LockPrefix(prefix); // other worktrees' test runs use the same prefixes
        Prefix = prefix;
        Root = LiveLab.RepoRoot();
        Work = Directory.CreateTempSubdirectory("userlb-" + prefix + "-").FullName;
        try
        {
            LiveLab.Sh(Root, $"lab/topo.sh up {prefix} {kind} {Work}" + (ipv6 ? " '' ipv6" : ""), 60);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Prefix { get; }
    public string Root { get; }
    public string Work { get; }

    /// <summary>
    /// Starts a process in namespace PREFIX+<paramref name="ns"/>, killed on Dispose: its output collected into
    /// <paramref name="output"/>, or with <paramref name="interactive"/> its stdin and stdout left to the caller.
    /// </summary>
    public Process Start(string ns, string command, StringBuilder? output = null, bool interactive = false)
    {
        var psi = new ProcessStartInfo("ip", ["netns", "exec", Prefix + ns, "bash", "-c", "exec " + command])
        {
            RedirectStandardOutput = output is not null || interactive,
            RedirectStandardError = output is not null,
            RedirectStandardInput = interactive,
            WorkingDirectory = Root,
        };
        var p = Process.Start(psi)!;
        _processes.Add(p);
        if (output is not null)
        {
            void Append(object? _, DataReceivedEventArgs e)
            {
                if (e.Data is null) return;
                lock (output) output.Append(e.Data).Append('\n');
            }
            p.OutputDataReceived += Append;
            p.ErrorDataReceived += Append;
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
        }
        return p;
    }

    /// <summary>Waits up to <paramref name="milliseconds"/> for a process from <see cref="Start"/> to exit, then for its
    /// redirected output to be read to the end (WaitForExit with a timeout returns before the last lines arrive).</summary>
    public static bool Finish(Process p, int milliseconds)
    {
        if (!p.WaitForExit(milliseconds)) return false;
        p.WaitForExit();
        return true;
    }

    /// <summary>Runs a command in a namespace to completion and returns its output (throws on failure).</summary>
    public string Exec(string ns, string command, int timeoutSeconds = 30) =>
        LiveLab.Sh(Root, $"ip netns exec {Prefix}{ns} {command}", timeoutSeconds);

    /// <summary>Starts <c>userlb run</c> in the LB namespace and waits until it forwards.</summary>
    public Userlb StartUserlb(string farmsJson, string extraArgs = "", string engine = "pcap")
    {
        string farms = Path.Combine(Work, "farms.json");
        File.WriteAllText(farms, farmsJson);
        string dll = Path.Combine(AppContext.BaseDirectory, "userlb.dll");
        var log = new StringBuilder();
        var p = Start("lb", $"dotnet {dll} run --config {farms} --engine {engine} --api off {extraArgs}", log);
        var u = new Userlb(p, log);
        u.WaitFor("forwarding with", TimeSpan.FromSeconds(30));
        return u;
    }

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try
            {
                if (!p.HasExited) p.Kill(true);
                p.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // never started or already reaped
            }
            p.Dispose();
        }
        LiveLab.Sh(Root, $"lab/topo.sh down {Prefix}", 60, check: false);
        try { Directory.Delete(Work, true); }
        catch (IOException) { }
        _lock.Dispose();
    }

    /// <summary>A running userlb and its log.</summary>
    public sealed class Userlb(Process process, StringBuilder log)
    {
        public Process Process { get; } = process;

        public string Log
        {
            get { lock (log) return log.ToString(); }
        }

        public void WaitFor(string text, TimeSpan timeout)
        {
            var sw = Stopwatch.StartNew();
            while (!Log.Contains(text, StringComparison.Ordinal))
            {
                if (sw.Elapsed > timeout || Process.HasExited)
                {
                    Process.WaitForExit(1000);
                    throw new InvalidOperationException($"userlb: no \"{text}\" after {sw.Elapsed.TotalSeconds:F1} s (exited: {Process.HasExited}):\n{Log}");
                }
                Thread.Sleep(50);
            }
        }

        /// <summary>SIGTERM, as a service manager stops it; waits for the exit and returns the exit code.</summary>
        public int Terminate()
        {
            LiveLab.Sh("/", $"kill -TERM {Process.Id.ToString(CultureInfo.InvariantCulture)}", 10);
            if (!Process.WaitForExit(15000)) throw new TimeoutException("userlb did not stop on SIGTERM:\n" + Log);
            Process.WaitForExit(); // drain the output
            return Process.ExitCode;
        }
    }

    /// <summary>lab/stream.py client: one TCP connection held open and driven line by line.</summary>
    public sealed class StreamClient
    {
        private readonly Process _p;

        public StreamClient(LabSession lab, string vip, int port)
        {
            _p = lab.Start("c", $"python3 -u lab/stream.py client {vip} {port}", null, interactive: true);
            string first = ReadLine(TimeSpan.FromSeconds(30)); // a loaded machine starts python slowly
            using var doc = JsonDocument.Parse(first);
            if (!doc.RootElement.TryGetProperty("connected", out var local)) throw new InvalidOperationException("stream client: " + first);
            LocalPort = local.GetInt32();
        }

        public int LocalPort { get; }

        /// <summary>Sends a line and returns the reply ("NAME PEER-IP PEER-PORT TEXT"), or null with the error.</summary>
        public (string? Reply, string? Error) Send(string text, double timeoutSeconds = 3)
        {
            SendBegin(text, timeoutSeconds);
            return SendEnd(timeoutSeconds);
        }

        /// <summary>Sends a line without waiting for the reply (collect it with <see cref="SendEnd"/>).</summary>
        public void SendBegin(string text, double timeoutSeconds)
        {
            _p.StandardInput.WriteLine($"send {timeoutSeconds.ToString(CultureInfo.InvariantCulture)} {text}");
            _p.StandardInput.Flush();
        }

        public (string? Reply, string? Error) SendEnd(double timeoutSeconds)
        {
            string line = ReadLine(TimeSpan.FromSeconds(timeoutSeconds + 10));
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return r.GetProperty("ok").GetBoolean() ? (r.GetProperty("reply").GetString(), null) : (null, r.GetProperty("error").GetString());
        }

        /// <summary>Closes the connection (stdin closed: the client exits and its socket closes).</summary>
        public void Close()
        {
            _p.StandardInput.Close();
            _p.WaitForExit(5000);
        }

        private string ReadLine(TimeSpan timeout)
        {
            var read = _p.StandardOutput.ReadLineAsync();
            if (!read.Wait(timeout)) throw new TimeoutException("stream client: no answer");
            return read.Result ?? throw new InvalidOperationException("stream client exited");
        }
    }
}
