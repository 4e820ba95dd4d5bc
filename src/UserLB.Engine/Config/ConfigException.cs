namespace UserLB.Engine.Config;

/// <summary>
/// An invalid configuration document. <see cref="Exception.Message"/> says where the problem is, e.g.
/// <c>farm "app", backend "bck1", key "weight": "abc" is not a non-negative integer</c>.
/// </summary>
public sealed class ConfigException : Exception
{
    /// <summary>Creates an exception with a generic message.</summary>
    public ConfigException()
        : base("invalid configuration")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    public ConfigException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> and an inner exception.</summary>
    public ConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal ConfigException(string message, string? farm, string? backend, string? key, Exception? innerException = null)
        : base(message, innerException)
    {
        Farm = farm;
        Backend = backend;
        Key = key;
    }

    /// <summary>The farm the problem is in, when known by name.</summary>
    public string? Farm { get; }

    /// <summary>The backend the problem is in, when known by name.</summary>
    public string? Backend { get; }

    /// <summary>The key the problem is in, if any.</summary>
    public string? Key { get; }
}
