using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// The SYN proxy of a farm with <c>"synproxy": "on"</c> (iptables' SYNPROXY target, nft's synproxy statement;
/// nf_synproxy_core.c and nf_conntrack_seqadj.c):
/// 1. a client's SYN is answered with a SYN-ACK whose sequence number is a SYN cookie (<see cref="SynCookies"/>), whose
///    timestamp carries the client's window scale, SACK and ECN, and whose window is 0 (the client sends nothing until
///    the backend is there); nothing is kept;
/// 2. the client's ACK: a valid cookie opens the connection — scheduling, NAT, the table — and the proxy sends the
///    backend a SYN with the client's ISN and options; an ACK without a valid cookie is a counted drop;
/// 3. the backend's SYN-ACK is answered by the proxy's ACK, and the client is sent an ACK that opens the window;
/// 4. from then on the backend's sequence numbers are shifted by the cookie less the backend's ISN and its timestamps by
///    the difference of the first ones, both ways, for the connection's life (those packets take the general path).
/// The frames the proxy makes are built in a buffer of its own, with full checksums; they are not received frames, so
/// they count as sent (tx) only, and the frame that caused them as answered by the LB.
/// </summary>
public sealed partial class PacketEngine
{
    /// <summary>The MSS the proxy offers clients (nft's <c>synproxy mss</c>): IPv4, IPv6.</summary>
    public const ushort SynProxyMss4 = 1460, SynProxyMss6 = 1440;

    /// <summary>The window scale the proxy offers clients (<c>synproxy wscale</c>): the backends' own must match it,
    /// since their windows reach the client unchanged (Linux's default for its buffer sizes).</summary>
    public const byte SynProxyWindowScale = 7;

    private const byte TcpSynAckRstFin = TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst | TcpFlags.Fin;
    private const byte TcpEce = 0x40, TcpCwr = 0x80;

    private readonly SynCookies _cookies;
    private readonly byte[] _proxyFrame = new byte[160];

    /// <summary>What a client's ACK with a valid cookie tells: its ISN, the cookie, its window and its options.</summary>
    private struct SynProxyOpen
    {
        public TcpSynOptions Options;
        public uint ClientIsn, Cookie;
        public ushort Window;
    }

    /// <summary>The 32-byte cookie secret: the injected one, else derived from the engine's hash key (seeded).</summary>
    private static SynCookies NewCookies(ReadOnlyMemory<byte> secret, ulong hashKey)
    {
        if (secret.Length == 32) return new SynCookies(secret.Span);
        Span<byte> derived = stackalloc byte[32];
        for (int i = 0; i < 4; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(derived[(i * 8)..], FlowTuple.Mix(hashKey + 0x5A17_C00C_1E5E_C4E7UL * (ulong)(i + 1)));
        return new SynCookies(derived);
    }

    /// <summary>
    /// A TCP packet with no connection for a SYN-proxied farm: a SYN is answered with a cookie (false: done); an ACK
    /// with a valid cookie opens the connection (true, with what it told); anything else is a counted drop (false).
    /// </summary>
    private bool SynProxyFirst(Span<byte> frame, in PacketInfo p, int port, FarmRuntime farm, in FlowTuple tuple, long nowNs, out SynProxyOpen open)
    {
        open = default;
        int flags = p.TcpFlags & TcpSynAckRstFin;
        if ((flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) == TcpFlags.Syn)
        {
            SynProxyAnswer(frame, p, port, farm, tuple, nowNs);
            return false;
        }
        if ((flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) == TcpFlags.Ack)
            return SynProxyCheck(frame, p, farm.Id, tuple, nowNs, probeFirst: false, out open);
        Trace?.Step(Inv($"synproxy: farm {farm.Name}: tcp flags {FormatTcpFlags(p.TcpFlags)} with no connection: neither a SYN nor a cookie ACK"));
        DropFlow(DropReason.TcpNoSynForNewFlow, farm.Id, -1);
        return false;
    }

    /// <summary>Answers a client's SYN with a cookie SYN-ACK (synproxy_send_client_synack), out of the port it came in on.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SynProxyAnswer(Span<byte> frame, in PacketInfo p, int port, FarmRuntime farm, in FlowTuple tuple, long nowNs)
    {
        Counters.SynProxySyns++;
        var tcp = frame[p.L4Offset..p.PacketEnd];
        var o = TcpSynOptions.Read(tcp);
        if ((tcp[Offsets.TcpFlags] & (TcpEce | TcpCwr)) == (TcpEce | TcpCwr)) o.Present |= TcpSynOptions.Ecn; // the parser keeps 6 flag bits
        uint clientIsn = BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]);
        uint cookie = _cookies.Make(tuple, clientIsn, o.Has(TcpSynOptions.Mss) ? o.MssValue : (ushort)0, nowNs, out ushort encodedMss);
        var reply = o;
        reply.MssValue = p.IsV6 ? SynProxyMss6 : SynProxyMss4;
        if (reply.Has(TcpSynOptions.Timestamp)) reply.EncodeTimestamp((uint)(nowNs / 1_000_000), SynProxyWindowScale);
        else reply.Present &= unchecked((byte)~(TcpSynOptions.WindowScale | TcpSynOptions.SackPermitted | TcpSynOptions.Ecn));
        byte synAck = (byte)(TcpFlags.Syn | TcpFlags.Ack | (reply.Has(TcpSynOptions.Ecn) ? TcpEce : 0));
        int len = BuildTcp(_proxyFrame, frame[..p.L3Offset], p.Dst, p.Src, p.DstPort, p.SrcPort, cookie, clientIsn + 1, synAck, 0, reply);
        var packet = _proxyFrame.AsSpan(0, len);
        int outPort = port >= 0 ? port : (uint)farm.Id < (uint)_farmIngressPort.Length && _farmIngressPort[farm.Id] >= 0 ? _farmIngressPort[farm.Id] : 0;
        MacAddress.WriteAddresses(packet, MacAddress.Read(frame[Offsets.EthSrc..]), PortMac(outPort));
        Emit(packet, outPort);
        Counters.Consumed++;
        if (Trace is not null)
            Trace.Step(Inv($"synproxy: farm {farm.Name}: SYN answered with a cookie SYN-ACK, nothing kept: seq {cookie} (mss {(o.Has(TcpSynOptions.Mss) ? o.MssValue : 0)} encoded as {encodedMss}{DescribeOptions(o)}), window 0, offering mss {reply.MssValue}{(reply.Has(TcpSynOptions.WindowScale) ? Inv($" wscale {reply.Scale}") : "")}"));
    }

    /// <summary>
    /// Checks the cookie a client's ACK acknowledges (synproxy_recv_client_ack): true with what it tells; false (a
    /// counted drop) when it is not one of ours. The client's first ACK has its ISN + 1 as sequence number; a
    /// zero-window probe (the client waiting for the window the SYN-ACK closed) its ISN: <paramref name="probeFirst"/>
    /// reads it as a probe first (once the proxy has sent its SYN, the client sends nothing else), else as the first ACK.
    /// </summary>
    private bool SynProxyCheck(Span<byte> frame, in PacketInfo p, int farmId, in FlowTuple tuple, long nowNs, bool probeFirst, out SynProxyOpen open)
    {
        open = default;
        var tcp = frame[p.L4Offset..p.PacketEnd];
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]), ack = BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]);
        uint first = probeFirst ? seq + 1 : seq, second = probeFirst ? seq : seq + 1;
        ushort mss = _cookies.Check(tuple, first, ack, nowNs);
        if (mss != 0) seq = first;
        else if ((mss = _cookies.Check(tuple, second, ack, nowNs)) != 0) seq = second;
        if (mss == 0)
        {
            Trace?.Step(Inv($"synproxy: ACK {ack} acknowledges no valid cookie (or one older than {SynCookies.MaxAgeMinutes} minutes): dropped"));
            DropFlow(DropReason.SynProxyBadCookie, farmId, -1);
            return false;
        }
        Counters.SynProxyCookiesValid++;
        var o = TcpSynOptions.Read(tcp);
        o.Present = (byte)((o.Present & TcpSynOptions.Timestamp) | TcpSynOptions.Mss);
        o.MssValue = mss;
        if (o.Has(TcpSynOptions.Timestamp)) o.DecodeTimestamp();
        open.Options = o;
        open.ClientIsn = seq - 1;
        open.Cookie = ack - 1;
        open.Window = BinaryPrimitives.ReadUInt16BigEndian(tcp[14..]);
        Trace?.Step(Inv($"synproxy: ACK carries a valid cookie {open.Cookie}: client ISN {open.ClientIsn}, mss {mss}{DescribeOptions(o)}"));
        return true;
    }

    /// <summary>The connection is in the table (NAT chosen): the proxy sends the backend the client's SYN and waits for its SYN-ACK.</summary>
    private void SynProxyConnect(Span<byte> frame, in PacketInfo p, ref ConnEntry e, in SynProxyOpen open, EngineSnapshot snapshot)
    {
        e.Status |= ConnStatus.SynProxyPending;
        e.SeqOffset = open.Cookie;
        e.TsOffset = open.Options.Has(TcpSynOptions.Timestamp) ? open.Options.TsEcr : 0;
        e.ProxyWindow = open.Window;
        e.WindowShift = (sbyte)(open.Options.Has(TcpSynOptions.WindowScale) ? SynProxyWindowScale : 0); // the client's scale, for now
        Account(ref e, false, p);
        Counters.Consumed++;
        SendBackendSyn(frame[..p.L3Offset], e, open, snapshot);
    }

    /// <summary>synproxy_send_server_syn: the client's ISN and options (MSS, window scale, SACK from the cookie; its
    /// timestamps) from the client's NAT address to the backend.</summary>
    private void SendBackendSyn(ReadOnlySpan<byte> l2, in ConnEntry e, in SynProxyOpen open, EngineSnapshot snapshot)
    {
        byte flags = (byte)(TcpFlags.Syn | (open.Options.Has(TcpSynOptions.Ecn) ? TcpEce | TcpCwr : 0));
        int len = BuildTcp(_proxyFrame, l2, e.Reply.Dst, e.Reply.Src, e.Reply.DstPort, e.Reply.SrcPort, open.ClientIsn, 0, flags, open.Window, open.Options);
        Trace?.Step(Inv($"synproxy: SYN to the backend {e.Reply.Src}:{e.Reply.SrcPort}, seq {open.ClientIsn} (the client's ISN)"));
        SendGenerated(_proxyFrame.AsSpan(0, len), e.Reply.Src, e.FarmId, false, snapshot);
    }

    /// <summary>
    /// A packet of a connection whose backend has not answered the proxy's SYN yet: the backend's SYN-ACK completes it;
    /// a client's ACK again (its ACK or SYN-ACK was lost) re-sends the SYN, a client's SYN gets a cookie again. True when
    /// handled here; false to go on as usual (a RST from the backend, with its sequence number shifted into the
    /// client's view).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool SynProxyPending(Span<byte> frame, in PacketInfo p, EngineSnapshot snapshot, long nowNs, int index, bool reply)
    {
        ref var e = ref _table[index];
        int flags = p.TcpFlags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst);
        var tcp = frame[p.L4Offset..p.PacketEnd];
        if (reply)
        {
            if (flags == (TcpFlags.Syn | TcpFlags.Ack))
            {
                SynProxyEstablish(frame, p, snapshot, nowNs, index);
                return true;
            }
            if ((flags & TcpFlags.Rst) != 0)
            {
                // The backend refused: its RST reaches the client with the sequence number the client expects.
                e.SeqOffset = e.SeqOffset + 1 - BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]);
                e.TsOffset = 0;
                e.Status = (e.Status & ~ConnStatus.SynProxyPending) | ConnStatus.SeqAdjust;
                Trace?.Step("synproxy: the backend answered the SYN with a RST: relayed to the client in its sequence space");
            }
            return false;
        }
        if (flags == TcpFlags.Syn)
        {
            var farm = snapshot.FindFarm(p.Dst, p.Protocol, p.DstPort);
            if (farm is null || !farm.SynProxy) return false;
            SynProxyAnswer(frame, p, -1, farm, e.Original, nowNs);
            return true;
        }
        if (flags == TcpFlags.Ack)
        {
            if (!SynProxyCheck(frame, p, e.FarmId, e.Original, nowNs, probeFirst: true, out var open)) return true;
            Counters.SynProxyRetransmits++;
            Counters.Consumed++;
            Trace?.Step("synproxy: the client's ACK again, before the backend answered: the SYN is sent again");
            SendBackendSyn(frame[..p.L3Offset], e, open, snapshot);
            return true;
        }
        return false;
    }

    /// <summary>
    /// The backend's SYN-ACK: the proxy ACKs it (synproxy_send_server_ack), sets the shifts (nf_ct_seqadj_init), and
    /// sends the client an ACK with the backend's window (synproxy_send_client_ack). The connection is ESTABLISHED.
    /// </summary>
    private void SynProxyEstablish(Span<byte> frame, in PacketInfo p, EngineSnapshot snapshot, long nowNs, int index)
    {
        ref var e = ref _table[index];
        var tcp = frame[p.L4Offset..p.PacketEnd];
        var s = TcpSynOptions.Read(tcp);
        uint serverIsn = BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]);
        uint clientNext = BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]);
        ushort window = BinaryPrimitives.ReadUInt16BigEndian(tcp[14..]);
        uint cookie = e.SeqOffset, cookieTs = e.TsOffset;
        e.TsOffset = s.Has(TcpSynOptions.Timestamp) ? s.TsVal - cookieTs : 0;
        e.SeqOffset = cookie - serverIsn;
        // The client was offered the proxy's window scale if it offered one (kept in WindowShift meanwhile); a backend whose
        // scale differs (none: 0) has its windows converted on the way.
        int clientScale = e.WindowShift;
        e.WindowShift = (sbyte)((s.Has(TcpSynOptions.WindowScale) ? s.Scale : 0) - clientScale);
        e.Status = (e.Status & ~ConnStatus.SynProxyPending) | ConnStatus.SeqAdjust | ConnStatus.SeenReply | ConnStatus.Assured;
        e.TcpState = TcpState.Established;
        e.ExpiresNs = nowNs + _tcpEstablishedTimeoutNs;
        _table.Untrack(index);
        Account(ref e, true, p);
        Counters.Consumed++;
        Counters.SynProxyHandshakes++;
        if (_table.Events is { } events) events.OnEvent(ConnEventType.Update, e, nowNs);
        if (Trace is not null)
        {
            Trace.Step(Inv($"synproxy: the backend's SYN-ACK (ISN {serverIsn}): ACK to the backend, an ACK opening the window to the client"));
            Trace.Step(Inv($"seqadj: the backend's sequence numbers + {e.SeqOffset} ({serverIsn} → the cookie {cookie}){(e.TsOffset != 0 ? Inv($", its timestamps - {e.TsOffset}") : "")}, both ways{(e.WindowShift != 0 ? Inv($"; its windows from scale {s.Scale} to {clientScale}") : "")}"));
            Trace.Step("conntrack: [UPDATE] " + ConntrackFormatter.Line(e, nowNs));
        }

        var l2 = frame[..p.L3Offset];
        var ts = default(TcpSynOptions);
        if (s.Has(TcpSynOptions.Timestamp))
        {
            ts.Present = TcpSynOptions.Timestamp;
            ts.TsVal = s.TsEcr;
            ts.TsEcr = s.TsVal;
        }
        int len = BuildTcp(_proxyFrame, l2, p.Dst, p.Src, p.DstPort, p.SrcPort, clientNext, serverIsn + 1, TcpFlags.Ack, e.ProxyWindow, ts);
        SendGenerated(_proxyFrame.AsSpan(0, len), e.Reply.Src, e.FarmId, false, snapshot);

        if (s.Has(TcpSynOptions.Timestamp))
        {
            ts.TsVal = s.TsVal - e.TsOffset;
            ts.TsEcr = s.TsEcr;
        }
        ushort clientWindow = (ushort)(window >> clientScale);
        len = BuildTcp(_proxyFrame, l2, e.Original.Dst, e.Original.Src, e.Original.DstPort, e.Original.SrcPort, cookie + 1, clientNext, TcpFlags.Ack, clientWindow, ts);
        SendGenerated(_proxyFrame.AsSpan(0, len), e.Original.Src, e.FarmId, true, snapshot);
    }

    /// <summary>
    /// nf_ct_seq_adjust and synproxy_tstamp_adjust for a packet of a SYN-proxied connection, after NAT: the backend's
    /// sequence number (to the client) + the offset; the client's acknowledgment and SACK edges (to the backend) − the
    /// offset; the backend's timestamp − the timestamp offset, the client's echo + it. RFC 1624 updates (none for a
    /// partial checksum: these fields are summed when it is completed).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SeqAdjust(Span<byte> frame, in PacketInfo p, in ConnEntry e, bool reply)
    {
        if (p.L4Offset + Offsets.TcpMinHeader > p.PacketEnd || p.PacketEnd > frame.Length) return;
        var tcp = frame[p.L4Offset..p.PacketEnd];
        bool full = !p.Offload.NeedsChecksum;
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(tcp[Offsets.TcpChecksum..]);
        if (reply)
        {
            uint seq = BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]);
            Replace32(tcp, 4, seq + e.SeqOffset, ref check, full);
            Trace?.Step(Inv($"seqadj: seq {seq} → {seq + e.SeqOffset}"));
            if (e.WindowShift != 0 && (p.TcpFlags & TcpFlags.Syn) == 0) Rescale(tcp, e.WindowShift, ref check, full);
        }
        else if ((p.TcpFlags & TcpFlags.Ack) != 0)
        {
            uint ack = BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]);
            Replace32(tcp, 8, ack - e.SeqOffset, ref check, full);
            Trace?.Step(Inv($"seqadj: ack {ack} → {ack - e.SeqOffset}"));
        }
        int end = (tcp[12] >> 4) * 4;
        if (end > Offsets.TcpMinHeader && end <= tcp.Length) AdjustOptions(tcp, end, e, reply, ref check, full);
        if (full) BinaryPrimitives.WriteUInt16BigEndian(tcp[Offsets.TcpChecksum..], check);
    }

    /// <summary>A backend's window (in its scale) in the scale the client was offered: shifted, at most 65535.</summary>
    private static void Rescale(Span<byte> tcp, sbyte shift, ref ushort check, bool full)
    {
        ushort window = BinaryPrimitives.ReadUInt16BigEndian(tcp[14..]);
        ushort scaled = shift > 0 ? (ushort)Math.Min(65535, window << shift) : (ushort)(window >> -shift);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], scaled);
        if (full) check = Checksum.Update16(check, window, scaled);
    }

    /// <summary>The timestamps (both ways) and SACK edges (to the backend) among a segment's options.</summary>
    private static void AdjustOptions(Span<byte> tcp, int end, in ConnEntry e, bool reply, ref ushort check, bool full)
    {
        const byte Eol = 0, Nop = 1, Sack = 5, Timestamp = 8;
        int i = Offsets.TcpMinHeader;
        while (i < end)
        {
            byte kind = tcp[i];
            if (kind == Eol) return;
            if (kind == Nop) { i++; continue; }
            if (i + 1 >= end) return;
            int size = tcp[i + 1];
            if (size < 2 || i + size > end) return;
            if (kind == Timestamp && size == 10 && e.TsOffset != 0)
            {
                int at = i + (reply ? 2 : 6);
                uint v = BinaryPrimitives.ReadUInt32BigEndian(tcp[at..]);
                Replace32(tcp, at, reply ? v - e.TsOffset : v + e.TsOffset, ref check, full);
            }
            else if (kind == Sack && !reply && e.SeqOffset != 0)
            {
                for (int at = i + 2; at + 4 <= i + size; at += 4)
                    Replace32(tcp, at, BinaryPrimitives.ReadUInt32BigEndian(tcp[at..]) - e.SeqOffset, ref check, full);
            }
            i += size;
        }
    }

    /// <summary>Writes a 32-bit field of a TCP segment and updates its checksum over the 16-bit words it spans (an
    /// option may start at an odd offset).</summary>
    private static void Replace32(Span<byte> tcp, int at, uint value, ref ushort check, bool full)
    {
        if (!full)
        {
            BinaryPrimitives.WriteUInt32BigEndian(tcp[at..], value);
            return;
        }
        int start = at & ~1, end = (at + 5) & ~1;
        uint before = (uint)Checksum.SumBigEndian(tcp[start..end]);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[at..], value);
        check = Checksum.UpdateSum(check, before, (uint)Checksum.SumBigEndian(tcp[start..end]));
    }

    /// <summary>
    /// Builds an IPv4 or IPv6 TCP segment behind <paramref name="l2"/> (the Ethernet header, VLAN tag included, of the
    /// frame that caused it: the MACs are set when it is sent) with full checksums, TTL 64 and DF; returns its length.
    /// </summary>
    private static int BuildTcp(Span<byte> buffer, ReadOnlySpan<byte> l2, IpAddr src, IpAddr dst, ushort sport, ushort dport,
        uint seq, uint ack, byte flags, ushort window, in TcpSynOptions options)
    {
        bool v6 = !src.IsV4;
        int l3 = l2.Length, ipLen = v6 ? Offsets.Ip6Header : Offsets.Ip4MinHeader, tcpLen = Offsets.TcpMinHeader + options.Size;
        int total = l3 + ipLen + tcpLen;
        var frame = buffer[..total];
        l2.CopyTo(frame);
        var ip = frame.Slice(l3, ipLen);
        var tcp = frame.Slice(l3 + ipLen, tcpLen);
        ulong pseudo;
        if (v6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000);
            BinaryPrimitives.WriteUInt16BigEndian(ip[Offsets.Ip6PayloadLength..], (ushort)tcpLen);
            ip[Offsets.Ip6NextHeader] = IpProtocols.Tcp;
            ip[Offsets.Ip6HopLimit] = 64;
            src.WriteV6(ip[Offsets.Ip6Src..]);
            dst.WriteV6(ip[Offsets.Ip6Dst..]);
            pseudo = Checksum.PseudoHeaderV6(ip[Offsets.Ip6Src..], ip[Offsets.Ip6Dst..], IpProtocols.Tcp, tcpLen);
        }
        else
        {
            ip.Clear();
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[Offsets.Ip4TotalLength..], (ushort)(ipLen + tcpLen));
            BinaryPrimitives.WriteUInt16BigEndian(ip[Offsets.Ip4Flags..], 0x4000); // DF
            ip[Offsets.Ip4Ttl] = 64;
            ip[Offsets.Ip4Protocol] = IpProtocols.Tcp;
            src.WriteV4(ip[Offsets.Ip4Src..]);
            dst.WriteV4(ip[Offsets.Ip4Dst..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[Offsets.Ip4Checksum..], Checksum.Compute(ip));
            pseudo = Checksum.PseudoHeaderV4(ip[Offsets.Ip4Src..], ip[Offsets.Ip4Dst..], IpProtocols.Tcp, tcpLen);
        }
        tcp.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], dport);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], ack);
        tcp[12] = (byte)(tcpLen / 4 << 4);
        tcp[Offsets.TcpFlags] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], window);
        options.Write(tcp[Offsets.TcpMinHeader..]);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[Offsets.TcpChecksum..], Checksum.Compute(tcp, pseudo));
        return total;
    }

    /// <summary>Sends a frame the proxy made to <paramref name="nextHop"/> when its MAC is known; else asks for it (ARP/NDP)
    /// and lets the frame go: TCP's retransmission (the client's, the backend's) makes the proxy send it again.</summary>
    private void SendGenerated(Span<byte> packet, IpAddr nextHop, int farmId, bool toClient, EngineSnapshot snapshot)
    {
        if (_neighbors.TryGet(nextHop, out var mac, out int port))
        {
            Transmit(packet, mac, port, default);
            if (Trace is not null && PacketParser.Parse(packet, out var q) == DropReason.None) TraceOut(q, mac, port);
            return;
        }
        var ports = toClient ? _farmIngressPort : _farmEgressPort;
        int egress = (uint)farmId < (uint)ports.Length && ports[farmId] >= 0 ? ports[farmId] : 0;
        Trace?.Step(Inv($"synproxy: neighbour {nextHop} unknown: frame not sent (TCP sends again)"));
        Solicit(nextHop, default, egress, snapshot);
    }

    private static string DescribeOptions(in TcpSynOptions o) =>
        (o.Has(TcpSynOptions.WindowScale) ? Inv($", wscale {o.Scale}") : "")
        + (o.Has(TcpSynOptions.SackPermitted) ? ", sack-perm" : "")
        + (o.Has(TcpSynOptions.Timestamp) ? Inv($", timestamp {o.TsVal}/{o.TsEcr}") : "")
        + (o.Has(TcpSynOptions.Ecn) ? ", ecn" : "");
}
