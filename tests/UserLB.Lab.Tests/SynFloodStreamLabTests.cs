using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace UserLB.Lab.Tests;

/// <summary>
/// A TCP bulk stream through the LB (iperf3, 12 s, offloads on, afpacket) while a full-speed SYN flood from spoofed
/// sources (hping3 -S --flood --rand-source) hits the VIP for 8 s of it: the flood's SYNs are steered to each port's
/// handshake ring (a fanout group's BPF program), so they overflow that ring and not the one carrying the stream.
/// Asserted: the stream moved in at least 11 of its 12 seconds, the main ring dropped nothing, the handshake ring
/// dropped the flood's excess (<c>userlb_port_handshake_drops_total</c>), and the flood rate is printed.
/// </summary>
[Collection("lab")]
public class SynFloodStreamLabTests
{
    private const int StreamSeconds = 12, FloodSeconds = 8;

    [SkippableFact]
    public void SynFlood_BulkStreamThroughTheLb_MovesInElevenOfTwelveSecondsAndMainRingDropsNothing()
    {
        LiveLab.SkipUnlessRoot();
        Skip.If(!FloodLab.HasHping3, "hping3 is not installed (./run-tests.sh installs it)");
        Skip.If(LiveLab.Sh("/", "command -v iperf3 || true", 10).Trim().Length == 0, "iperf3 is not installed (./run-tests.sh installs it)");
        using var lab = new LabSession("rsf");
        lab.Start("b0", "iperf3 -s");
        string farms = $$"""
            {"farms":[{"name":"bulk","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"80,5201","protocol":"tcp","mode":"snat","scheduler":"weight",{{LiveLab.IfacesOf("afpacket")}},
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
            """;
        var u = lab.StartUserlb(farms, "--api 127.0.0.1:5556 --key sf-key", engine: "afpacket");
        lab.Exec("b0", "bash -c 'for i in $(seq 50); do ss -ltn | grep -q \":5201 \" && exit 0; sleep 0.1; done; exit 1'");

        var streamOut = new StringBuilder();
        var stream = lab.Start("c", $"iperf3 -c {LiveLab.Vip} -t {StreamSeconds} -i 1 -J", streamOut);
        Thread.Sleep(2000);
        string flood = lab.Exec("c", $"bash -c 'timeout -s INT {FloodSeconds} hping3 -S --flood --rand-source -p 80 {LiveLab.Vip} 2>&1; true'", FloodSeconds + 20);
        LabSession.Finish(stream, (StreamSeconds + 20) * 1000);
        string metrics = lab.Exec("lb", "python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:5556/metrics').read().decode())\"");
        u.Terminate();

        string json;
        lock (streamOut) json = streamOut.ToString();
        var seconds = new List<double>();
        using (var doc = JsonDocument.Parse(json))
        {
            foreach (var i in doc.RootElement.GetProperty("intervals").EnumerateArray())
                seconds.Add(i.GetProperty("sum").GetProperty("bits_per_second").GetDouble() / 1e9);
        }

        var sent = Regex.Match(flood, @"(\d+) packets transmitted");
        long floodPackets = sent.Success ? long.Parse(sent.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        long mainDrops = Counter(metrics, "userlb_port_kernel_drops_total", "lbc");
        long handshakeDrops = Counter(metrics, "userlb_port_handshake_drops_total", "lbc");
        string story = string.Create(CultureInfo.InvariantCulture,
            $"flood: {floodPackets / (double)FloodSeconds:N0} SYN/s ({floodPackets} in {FloodSeconds} s); stream Gbit/s per second: {string.Join(' ', seconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))}; lbc main ring drops {mainDrops}, handshake ring drops {handshakeDrops}\n--- userlb:\n{u.Log}");
        Console.WriteLine(story);

        Assert.True(floodPackets > 0, story);
        Assert.True(seconds.Count >= StreamSeconds - 1, story);
        Assert.True(seconds.Count(s => s > 0) >= StreamSeconds - 1, story);
        Assert.Equal(0, mainDrops);
        Assert.True(handshakeDrops > 0, story); // the flood outran the engine, and only the handshake ring paid for it
    }

    private static long Counter(string metrics, string name, string port)
    {
        var m = Regex.Match(metrics, Regex.Escape(name) + "\\{port=\"" + port + "\"\\} (\\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }
}
