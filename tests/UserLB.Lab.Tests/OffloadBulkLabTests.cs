using System.Text;
using System.Text.Json;

namespace UserLB.Lab.Tests;

/// <summary>
/// A bulk TCP transfer through userlb with the veths' offloads on (namespaces obl*): the client's stack hands over
/// TSO super-frames with partial checksums. afpacket must pass them on as super-frames (the status file counts them);
/// pcap must complete and segment them in software. Either way every byte must arrive (sha256 compared end to end), in
/// NAT and DTA mode.
/// </summary>
[Collection("lab")]
public class OffloadBulkLabTests
{
    private const int Megabytes = 32;

    private static string Farms(string mode) => $$"""
        {"farms":[{"name":"bulk","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"9000","protocol":"tcp","mode":"{{mode}}",
          "scheduler":"weight","iface":"lbc","oface":"lbs","backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
        """;

    public static TheoryData<string, string> Cases() => new()
    {
        { "afpacket", "snat" },
        { "afpacket", "dnat" },
        { "pcap", "snat" },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Transfer_OffloadsOn_EveryByteArrivesAndSuperFramesAreKept(string engine, string mode)
    {
        LiveLab.SkipUnlessRoot();
        using var lab = new LabSession("obl");
        lab.Start("b0", "python3 lab/bulk.py serve 9000");
        string status = Path.Combine(lab.Work, "status");
        var u = lab.StartUserlb(Farms(mode), $"--status-file {status}", engine);
        AssertTransfer(lab, LiveLab.Vip, status, $"{engine}/{mode}", u.Log);
    }

    /// <summary>
    /// Sends <see cref="Megabytes"/> from the client to <paramref name="vip"/>:9000 (lab/bulk.py, served on b0) and
    /// asserts that the backend's sha256 matches, that userlb's status file counts super-frames and no vnet drop.
    /// </summary>
    internal static void AssertTransfer(LabSession lab, string vip, string status, string what, string log)
    {
        string result = lab.Exec("c", $"python3 lab/bulk.py send {vip} 9000 {Megabytes}", 120);
        using var json = JsonDocument.Parse(result.Trim().Split('\n')[^1]);
        Assert.True(json.RootElement.GetProperty("ok").GetBoolean(), $"{what}: the backend's sha256 differs from what was sent: {result}\n{log}");
        Thread.Sleep(1500); // the status file is rewritten every second
        string text = File.ReadAllText(status, Encoding.UTF8);
        var offloads = text.Split('\n').FirstOrDefault(l => l.StartsWith("# offloads ", StringComparison.Ordinal));
        Assert.True(offloads is not null, $"no offloads line in the status file:\n{text}");
        long gso = long.Parse(offloads!.Split("rx_gso_frames=")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(gso > 0, $"{what}: no super-frame seen: {offloads}");
        Assert.DoesNotContain("# drop vnet_", text, StringComparison.Ordinal);
    }
}
