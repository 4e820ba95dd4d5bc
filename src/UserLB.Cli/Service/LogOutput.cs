using Microsoft.Extensions.Logging;

namespace UserLB.Cli.Service;

/// <summary>
/// Where <c>userlb run</c> logs and from which level, with nftlb's daemon options: <c>-l/--log LEVEL</c> (syslog's
/// 0 emerg … 7 debug) and <c>-L/--log-output OUTPUT</c> (0 syslog, 1 stdout, 2 stderr, 3 syslog+stdout, 4
/// syslog+stderr). Without them: stdout, information and above (userlb's behaviour before the options).
/// </summary>
internal sealed record LogOutput(LogLevel MinLevel, bool Syslog, bool Stdout, bool Stderr)
{
    public static readonly LogOutput Default = new(LogLevel.Information, Syslog: false, Stdout: true, Stderr: false);

    /// <summary>The syslog socket (journald's too, under systemd).</summary>
    public string SyslogPath { get; init; } = "/dev/log";

    /// <summary>Reads --log and --log-output (their nftlb names -l and -L are aliases).</summary>
    public static LogOutput Parse(string? level, string? output)
    {
        var result = Default;
        if (level is not null)
        {
            if (!int.TryParse(level, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int l) || l > 7)
                throw new UsageException($"option --log: \"{level}\" is not a syslog level from 0 (emerg) to 7 (debug)");
            result = result with { MinLevel = LevelOf(l) };
        }
        if (output is not null)
        {
            result = output switch
            {
                "0" => result with { Syslog = true, Stdout = false },
                "1" => result,
                "2" => result with { Stdout = false, Stderr = true },
                "3" => result with { Syslog = true },
                "4" => result with { Syslog = true, Stdout = false, Stderr = true },
                _ => throw new UsageException($"option --log-output: \"{output}\" is not 0 (syslog), 1 (stdout), 2 (stderr), 3 (syslog+stdout) or 4 (syslog+stderr)"),
            };
        }
        return result;
    }

    /// <summary>A syslog level as the lowest <see cref="LogLevel"/> shown: 0–2 critical, 3 error, 4 warning, 5–6 information, 7 debug.</summary>
    public static LogLevel LevelOf(int syslogLevel) => syslogLevel switch
    {
        <= 2 => LogLevel.Critical,
        3 => LogLevel.Error,
        4 => LogLevel.Warning,
        <= 6 => LogLevel.Information,
        _ => LogLevel.Debug,
    };

    /// <summary>Adds the outputs to <paramref name="builder"/>, from <paramref name="floor"/> or <see cref="MinLevel"/>, whichever is higher.</summary>
    public void Configure(ILoggingBuilder builder, LogLevel floor = LogLevel.Trace)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.SetMinimumLevel(MinLevel > floor ? MinLevel : floor);
        if (Stdout || Stderr)
        {
            builder.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
            if (Stderr) builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        }
        if (Syslog) builder.AddProvider(new SyslogLoggerProvider(SyslogPath));
    }
}
