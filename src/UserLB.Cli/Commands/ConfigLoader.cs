using System.Text.Json;
using System.Text.Json.Nodes;
using UserLB.Cli.Api.Nftlb;
using UserLB.Engine.Config;

namespace UserLB.Cli.Commands;

/// <summary>
/// A configuration file as <c>userlb run</c> reads it: the farms the engine runs and the farms stored without a virtual
/// address (no <c>virtual-addr</c>, or an empty one, and no addresses), which nftlb keeps with no rules until they get one
/// and the API accepts and prints that way (<c>"virtual-addr": ""</c>).
/// </summary>
/// <param name="Config">The farms the engine runs.</param>
/// <param name="Stored">The stored farms as a document for the API's objects (<c>{"farms": [...]}</c>), or null: none.</param>
/// <param name="StoredNames">The stored farms' names, in the file's order.</param>
internal sealed record ConfigFile(LoadBalancerConfig Config, string? Stored, IReadOnlyList<string> StoredNames)
{
    /// <summary>The API's objects for the file: the engine's farms and the stored ones.</summary>
    /// <exception cref="UsageException">A stored farm is not valid (the message says which and why).</exception>
    public NftlbState Objects()
    {
        var state = NftlbState.From(Config);
        if (Stored is null) return state;
        try
        {
            using var doc = NftlbRequest.Read(Stored);
            NftlbRequest.Apply(state, doc.RootElement, new NftlbEffects());
        }
        catch (NftlbException ex)
        {
            string why = ex.Message.StartsWith(NftlbRequest.ParseError, StringComparison.Ordinal) ? ex.Message[NftlbRequest.ParseError.Length..] : ex.Message;
            throw new UsageException($"farm(s) without a virtual address ({string.Join(", ", StoredNames)}): {why}");
        }
        return state;
    }
}

/// <summary>Reads the configuration file of run, check, replay, rules and maglev.</summary>
internal static class ConfigLoader
{
    private static readonly JsonDocumentOptions ReadOptions = new() { CommentHandling = JsonCommentHandling.Skip };

    /// <summary>The farms the engine runs (replay, rules, maglev); a farm stored without a virtual address is said on
    /// standard error, as it runs nowhere.</summary>
    public static LoadBalancerConfig Load(string path)
    {
        var file = LoadFile(path);
        file.Objects(); // a stored farm is checked as the API would check it, though nothing here serves it
        foreach (var name in file.StoredNames)
            Console.Error.WriteLine($"userlb: farm \"{name}\" has no virtual address: stored, not run (nftlb keeps such a farm until it gets one)");
        return file.Config;
    }

    /// <summary>The file split as <see cref="Split"/> does; its stored farms are checked by <see cref="ConfigFile.Objects"/>.</summary>
    /// <exception cref="UsageException">The file cannot be read.</exception>
    /// <exception cref="ConfigException">The engine's farms are not valid.</exception>
    public static ConfigFile LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--config {path}: {ex.Message}");
        }
        var file = Split(text);
        EngineSupport.Validate(file.Config);
        return file;
    }

    /// <summary>
    /// Parses <paramref name="text"/>, keeping farms without a virtual address apart (see <see cref="ConfigFile"/>). A
    /// document without such farms, or one that is not valid JSON, goes to <see cref="ConfigParser"/> as it is, so its
    /// errors name the file's own lines.
    /// </summary>
    /// <exception cref="ConfigException">The engine's farms are not valid.</exception>
    public static ConfigFile Split(string text)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: ReadOptions);
        }
        catch (JsonException)
        {
            root = null;
        }
        if (root is not JsonObject doc || doc["farms"] is not JsonArray farms) return new ConfigFile(ConfigParser.Parse(text), null, []);
        var stored = new JsonArray();
        var names = new List<string>();
        for (int i = farms.Count - 1; i >= 0; i--)
        {
            if (farms[i] is not JsonObject farm || !WithoutVirtualAddress(farm, doc["addresses"] as JsonArray)) continue;
            farms.RemoveAt(i);
            stored.Insert(0, farm);
            names.Insert(0, farm["name"] is JsonValue n && n.TryGetValue(out string? name) ? name : "");
        }
        if (stored.Count == 0) return new ConfigFile(ConfigParser.Parse(text), null, []);
        var config = ConfigParser.Parse(doc.ToJsonString());
        return new ConfigFile(config, new JsonObject { ["farms"] = stored }.ToJsonString(), names);
    }

    /// <summary>No virtual-addr (or an empty one), and no address (none listed, or only ones whose ip-addr is empty:
    /// the farm's own as GET /farms prints them, or named top-level ones of <paramref name="named"/>).</summary>
    private static bool WithoutVirtualAddress(JsonObject farm, JsonArray? named)
    {
        if (farm.TryGetPropertyValue("virtual-addr", out var vip) && !IsEmptyText(vip)) return false;
        if (!farm.TryGetPropertyValue("addresses", out var addresses) || addresses is null) return true;
        if (addresses is not JsonArray list) return false;
        foreach (var a in list)
        {
            if (a is not JsonObject address) return false;
            var ip = address.TryGetPropertyValue("ip-addr", out var own) ? own : Named(named, address["name"])?["ip-addr"];
            if (!IsEmptyText(ip)) return false;
        }
        return true;
    }

    private static JsonObject? Named(JsonArray? named, JsonNode? name)
    {
        if (named is null || name is not JsonValue n || !n.TryGetValue(out string? wanted)) return null;
        foreach (var a in named)
            if (a is JsonObject o && o["name"] is JsonValue v && v.TryGetValue(out string? s) && s == wanted) return o;
        return null;
    }

    private static bool IsEmptyText(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) && s.Trim().Length == 0;
}
