using UserLB.Engine.Conntrack;

namespace UserLB.Engine.Tests.Conntrack;

/// <summary>The SYN proxy's TCP options: reading (synproxy_parse_options), writing (synproxy_build_options) and the
/// timestamp cookie (synproxy_init_timestamp_cookie / synproxy_check_timestamp_cookie), as tables.</summary>
public class TcpSynOptionsTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <summary>A TCP header (20 bytes, data offset from the options' length) followed by <paramref name="options"/>.</summary>
    private static byte[] Header(string options, int? dataOffsetWords = null)
    {
        var o = Hex(options);
        var h = new byte[20 + o.Length];
        h[12] = (byte)((dataOffsetWords ?? h.Length / 4) << 4);
        o.CopyTo(h, 20);
        return h;
    }

    /// <summary>(options bytes, present bits, MSS, window scale, TSval, TSecr).</summary>
    [Theory]
    [InlineData("", 0, 0, 0, 0u, 0u)]
    [InlineData("020405b4 0402080a 00003039 00000000 01030307", 0x0F, 1460, 7, 12345u, 0u)]    // Linux's SYN
    [InlineData("020405b4", 0x01, 1460, 0, 0u, 0u)]
    [InlineData("0303 0e01", 0x02, 0, 14, 0u, 0u)]                                             // WS 14
    [InlineData("0303 1f01", 0x02, 0, 14, 0u, 0u)]                                             // WS 31: capped at 14
    [InlineData("0101 080a 00000001 00000002", 0x08, 0, 0, 1u, 2u)]
    [InlineData("0402 0000", 0x04, 0, 0, 0u, 0u)]                                              // SACK-perm, then EOL
    [InlineData("00 020405b4 000000", 0, 0, 0, 0u, 0u)]                                        // EOL first: nothing after it
    [InlineData("0203 0501 020405b4", 0x01, 1460, 0, 0u, 0u)]                                  // an MSS of the wrong size is skipped
    [InlineData("0201 020405b4 000000", 0, 0, 0, 0u, 0u)]                                      // size < 2: stop
    [InlineData("020405b4 08ff 0000", 0x01, 1460, 0, 0u, 0u)]                                  // size past the end: stop
    [InlineData("01010101 01010101", 0, 0, 0, 0u, 0u)]                                         // NOPs only
    public void Read_OptionBytes_Fields(string options, byte present, ushort mss, byte scale, uint tsval, uint tsecr)
    {
        var o = TcpSynOptions.Read(Header(options));
        Assert.Equal(present, o.Present);
        Assert.Equal(mss, o.MssValue);
        if (o.Has(TcpSynOptions.WindowScale)) Assert.Equal(scale, o.Scale);
        Assert.Equal(tsval, o.TsVal);
        Assert.Equal(tsecr, o.TsEcr);
    }

    [Theory]
    [InlineData(4)]    // data offset below 5 words
    [InlineData(15)]   // data offset past the bytes there are
    public void Read_BadDataOffset_NoOptions(int words) =>
        Assert.Equal(0, TcpSynOptions.Read(Header("020405b4", words)).Present);

    /// <summary>(present bits, the bytes written): MSS; SACK-perm folded into the timestamp's word, else NOP NOP; WS.</summary>
    [Theory]
    [InlineData(0x00, "")]
    [InlineData(0x01, "020405b4")]
    [InlineData(0x02, "01030307")]
    [InlineData(0x04, "01010402")]
    [InlineData(0x08, "0101080a 00000064 000000c8")]
    [InlineData(0x0C, "0402080a 00000064 000000c8")]
    [InlineData(0x0F, "020405b4 0402080a 00000064 000000c8 01030307")]
    [InlineData(0x17, "020405b4 01010402 01030307")]     // ECN is a flag, not an option: nothing written for it
    public void Write_Options_LinuxLayout(byte present, string expected)
    {
        var o = new TcpSynOptions { Present = present, MssValue = 1460, Scale = 7, TsVal = 100, TsEcr = 200 };
        var buffer = new byte[40];
        o.Write(buffer);
        Assert.Equal(Hex(expected).Length, o.Size);
        Assert.Equal(Hex(expected), buffer[..o.Size]);
    }

    /// <summary>(client's options, clock ms) → the SYN-ACK's timestamp and window scale; and decoding it back.</summary>
    [Theory]
    [InlineData(0x0F, 1_000_000u, 1_000_023u, 7)]    // WS 7 + SACK: low bits 0x17
    [InlineData(0x09, 1_000_000u, 1_000_015u, 0)]    // no WS (0xf), no SACK
    [InlineData(0x0D, 1_000_063u, 1_000_031u, 0)]    // SACK, no WS: 0x1f; the clock's low 6 bits cleared first
    [InlineData(0x1B, 64u, 64u + 0x27, 7)]           // WS 7 + ECN: 0x27
    public void EncodeTimestamp_ClientOptions_InTheLowBitsAndDecodedBack(byte present, uint nowMs, uint tsval, byte ourScale)
    {
        var client = new TcpSynOptions { Present = present, MssValue = 1460, Scale = 7, TsVal = 4242, TsEcr = 0 };
        var synAck = client;
        synAck.EncodeTimestamp(nowMs, 7);
        Assert.Equal(tsval, synAck.TsVal);
        Assert.Equal(4242u, synAck.TsEcr);
        if (client.Has(TcpSynOptions.WindowScale)) Assert.Equal(ourScale, synAck.Scale);
        // The client's ACK echoes the timestamp: its options come back out of it.
        var ack = new TcpSynOptions { Present = TcpSynOptions.Timestamp, TsVal = 5000, TsEcr = synAck.TsVal };
        ack.DecodeTimestamp();
        Assert.Equal(client.Present & (TcpSynOptions.WindowScale | TcpSynOptions.SackPermitted | TcpSynOptions.Ecn),
            ack.Present & (TcpSynOptions.WindowScale | TcpSynOptions.SackPermitted | TcpSynOptions.Ecn));
        if (client.Has(TcpSynOptions.WindowScale)) Assert.Equal(client.Scale, ack.Scale);
    }
}
