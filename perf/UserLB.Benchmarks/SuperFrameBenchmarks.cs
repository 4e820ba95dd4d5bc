using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>
/// Cost of one 64 KB GSO super-frame with a partial checksum (what a veth with offloads on hands over) on an established
/// flow: parse, vnet header check, conntrack, NAT of the checksum seed, send with its offloads. Per frame and, divided by
/// <see cref="Payload"/>, per byte; <see cref="CopyOnly"/> measures the template copy each iteration makes first.
/// </summary>
public class SuperFrameBenchmarks
{
    private EngineScenario _s = null!;
    private byte[] _template = null!, _work = null!;
    private VnetHeader _offload;
    private long _now;

    [Params(false, true)]
    public bool Ipv6 { get; set; }

    /// <summary>TCP payload of the super-frame (64,000: about 44 segments of 1448 bytes).</summary>
    [Params(64000)]
    public int Payload { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _s = new EngineScenario(Ipv6);
        _s.Establish(40000, 64, 1);
        var full = FrameBuilder.Tcp(EngineScenario.Client, EngineScenario.Lb, _s.ClientIp, _s.Vip, 40000, 443, TcpFlags.Ack, Payload);
        (_template, _offload) = MakeSuperFrame(full, Ipv6);
        _work = new byte[_template.Length];
        _s.Sink.Inspect = false;
        _now = 10;
    }

    /// <summary>The frame as the kernel hands a TSO super-frame over: the checksum field holds the pseudo-header sum.</summary>
    public static (byte[] Frame, VnetHeader Offload) MakeSuperFrame(byte[] full, bool ipv6)
    {
        if (PacketParser.ParseAnySize(full, out var p) != DropReason.None) throw new InvalidOperationException("not a frame");
        var frame = (byte[])full.Clone();
        ushort seed = Checksum.Fold(ChecksumVerifier.PseudoHeaderSum(frame, p));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(p.L4Offset + Offsets.TcpChecksum), seed);
        var offload = new VnetHeader(VnetHeader.FlagNeedsChecksum, ipv6 ? VnetHeader.GsoTcpV6 : VnetHeader.GsoTcpV4,
            (ushort)(p.L4Offset + Offsets.TcpMinHeader), 1448, (ushort)p.L4Offset, Offsets.TcpChecksum);
        return (frame, offload);
    }

    [Benchmark]
    public void CopyOnly() => FrameCopy.Copy(_template, _work);

    [Benchmark]
    public void OriginalDirection()
    {
        FrameCopy.Copy(_template, _work);
        _s.Engine.Process(_work, 0, ++_now, _offload);
    }

    /// <summary>Super-frames forwarded with their offloads so far (the smoke test checks the body really forwards).</summary>
    public long OffloadFrames => _s.Sink.OffloadFrames;
}
