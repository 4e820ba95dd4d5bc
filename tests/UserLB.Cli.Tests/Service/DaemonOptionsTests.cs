using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using UserLB.Cli.Service;

namespace UserLB.Cli.Tests.Service;

/// <summary>nftlb's daemon options on <c>userlb run</c>: aliases, --host/--port, --log and --log-output, syslog.</summary>
public sealed class DaemonOptionsTests
{
    private static void Say(ILogger log, LogLevel level, string message) => log.Log(level, default, message, null, (m, _) => m);

    private static Args Parse(params string[] argv) =>
        new(argv, ["config", "key", "api", .. DaemonOptions.Valued], [], DaemonOptions.Aliases);

    [Fact]
    public void Aliases_NftlbShortNames_ReadAsUserlbOptions()
    {
        var args = Parse("-c", "farms.json", "-k", "hola", "-H", "::1", "-P", "5556", "-l", "7", "-L", "2");
        Assert.Equal("farms.json", args.Get("config"));
        Assert.Equal("hola", args.Get("key"));
        Assert.Equal("::1", args.Get("host"));
        Assert.Equal("5556", args.Get("port"));
        Assert.Equal("7", args.Get("log"));
        Assert.Equal("2", args.Get("log-output"));
    }

    [Theory]
    [InlineData(new string[0], "127.0.0.1:5555")]
    [InlineData(new[] { "--api", "127.0.0.2:6000" }, "127.0.0.2:6000")]
    [InlineData(new[] { "-P", "5556" }, "127.0.0.1:5556")]
    [InlineData(new[] { "--host", "0.0.0.0" }, "0.0.0.0:5555")]
    [InlineData(new[] { "-H", "::1", "-P", "80" }, "[::1]:80")]
    [InlineData(new[] { "--host", "[::]" }, "[::]:5555")]
    public void Listen_ApiOrHostAndPort_Endpoint(string[] argv, string expected)
    {
        Assert.Equal(expected, DaemonOptions.Listen(Parse(argv), out string text)!.ToString());
        Assert.Equal(expected, text);
    }

    [Fact]
    public void Listen_ApiOff_Null() => Assert.Null(DaemonOptions.Listen(Parse("--api", "off"), out _));

    [Theory]
    [InlineData(new[] { "--api", "127.0.0.1:1", "-P", "2" }, "not both")]
    [InlineData(new[] { "-H", "localhost" }, "not an IP address")]
    [InlineData(new[] { "-P", "0" }, "not a TCP port")]
    [InlineData(new[] { "-P", "65536" }, "not a TCP port")]
    [InlineData(new[] { "-P", "+80" }, "not a TCP port")]
    public void Listen_Bad_UsageError(string[] argv, string message)
    {
        var ex = Assert.Throws<UsageException>(() => DaemonOptions.Listen(Parse(argv), out _));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, LogLevel.Information, false, true, false)]
    [InlineData("0", "0", LogLevel.Critical, true, false, false)]
    [InlineData("3", "1", LogLevel.Error, false, true, false)]
    [InlineData("4", "2", LogLevel.Warning, false, false, true)]
    [InlineData("5", "3", LogLevel.Information, true, true, false)]
    [InlineData("7", "4", LogLevel.Debug, true, false, true)]
    public void LogOutput_NftlbLevelsAndOutputs_Mapped(string? level, string? output, LogLevel min, bool syslog, bool stdout, bool stderr) =>
        Assert.Equal(new LogOutput(min, syslog, stdout, stderr), LogOutput.Parse(level, output));

    [Theory]
    [InlineData("8", null, "--log")]
    [InlineData("-1", null, "--log")]
    [InlineData("debug", null, "--log")]
    [InlineData(null, "5", "--log-output")]
    [InlineData(null, "stdout", "--log-output")]
    public void LogOutput_Bad_UsageError(string? level, string? output, string option) =>
        Assert.Contains(option, Assert.Throws<UsageException>(() => LogOutput.Parse(level, output)).Message, StringComparison.Ordinal);

    [Fact]
    public void Syslog_Message_OneDatagramWithDaemonFacilityAndSeverity()
    {
        string dir = Directory.CreateTempSubdirectory("userlb-syslog-").FullName;
        try
        {
            string path = Path.Combine(dir, "log");
            using var syslog = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
            syslog.Bind(new UnixDomainSocketEndPoint(path));
            using (var factory = LoggerFactory.Create(b => (LogOutput.Parse("4", "0") with { SyslogPath = path }).Configure(b)))
            {
                var log = factory.CreateLogger("userlb");
                Say(log, LogLevel.Information, "not shown: below warning");
                Say(log, LogLevel.Warning, "farm app is stored but not placed");
                Say(log, LogLevel.Error, "bad");
            }
            var buffer = new byte[4096];
            string first = Encoding.UTF8.GetString(buffer, 0, syslog.Receive(buffer));
            string second = Encoding.UTF8.GetString(buffer, 0, syslog.Receive(buffer));
            Assert.Equal($"<28>userlb[{Environment.ProcessId}]: userlb: farm app is stored but not placed", first); // daemon (3) * 8 + warning (4)
            Assert.Equal($"<27>userlb[{Environment.ProcessId}]: userlb: bad", second);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Syslog_NoSocket_DropsWithoutThrowing()
    {
        using var factory = LoggerFactory.Create(b => (LogOutput.Parse(null, "0") with { SyslogPath = "/nonexistent/userlb-log" }).Configure(b));
        var log = factory.CreateLogger("userlb");
        Assert.Null(Record.Exception(() => Say(log, LogLevel.Warning, "dropped")));
        Assert.Null(Record.Exception(() => Say(log, LogLevel.Error, "dropped too"))); // said once on stderr, then silent
    }
}
