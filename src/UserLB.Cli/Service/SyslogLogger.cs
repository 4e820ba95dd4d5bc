using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace UserLB.Cli.Service;

/// <summary>
/// Logs to the local syslog socket (<c>/dev/log</c>: rsyslog's, or journald's under systemd) as nftlb does, one datagram
/// per message in the local format <c>&lt;PRI&gt;userlb[PID]: CATEGORY: MESSAGE</c>, facility daemon. A socket that is
/// not there drops the messages (said once on stderr): logging must never stop the load balancer.
/// </summary>
internal sealed class SyslogLoggerProvider(string path) : ILoggerProvider
{
    private const int FacilityDaemon = 3;
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly UnixDomainSocketEndPoint _target = new(path);
    private readonly Lock _lock = new();
    private readonly string _tag = string.Create(CultureInfo.InvariantCulture, $"userlb[{Environment.ProcessId}]: ");
    private bool _failed;

    public ILogger CreateLogger(string categoryName) => new SyslogLogger(this, categoryName);

    public void Dispose() => _socket.Dispose();

    /// <summary>syslog's severity of a level: critical 2, error 3, warning 4, information 6, debug and trace 7.</summary>
    public static int Severity(LogLevel level) => level switch
    {
        LogLevel.Critical => 2,
        LogLevel.Error => 3,
        LogLevel.Warning => 4,
        LogLevel.Information => 6,
        _ => 7,
    };

    private void Write(LogLevel level, string category, string message)
    {
        string line = string.Create(CultureInfo.InvariantCulture, $"<{FacilityDaemon * 8 + Severity(level)}>{_tag}{category}: {message}");
        lock (_lock)
        {
            try
            {
                _socket.SendTo(Encoding.UTF8.GetBytes(line), _target);
            }
            catch (SocketException ex)
            {
                if (_failed) return;
                _failed = true;
                Console.Error.WriteLine($"userlb: cannot log to syslog ({path}): {ex.Message}; its messages are dropped");
            }
        }
    }

    private sealed class SyslogLogger(SyslogLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (!IsEnabled(logLevel)) return;
            string message = formatter(state, exception);
            if (exception is not null) message += ": " + exception.Message;
            provider.Write(logLevel, category, message);
        }
    }
}
