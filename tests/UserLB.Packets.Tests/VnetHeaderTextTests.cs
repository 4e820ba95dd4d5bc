using UserLB.Packets;

namespace UserLB.Packets.Tests;

public class VnetHeaderTextTests
{
    private const byte Csum = VnetHeader.FlagNeedsChecksum;
    private const byte Valid = VnetHeader.FlagDataValid;

    /// <summary>Headers and their text, both ways: ToString writes it and TryParse reads it back.</summary>
    public static TheoryData<string, VnetHeader> RoundTrips => new()
    {
        { "plain", default },
        { "needs_csum start=34 offset=16", new VnetHeader(Csum, 0, 0, 0, 34, 16) },
        { "needs_csum start=34 offset=16 gso=tcpv4 size=1448 hdr_len=66", new VnetHeader(Csum, VnetHeader.GsoTcpV4, 66, 1448, 34, 16) },
        { "needs_csum start=54 offset=16 gso=tcpv6 size=1428", new VnetHeader(Csum, VnetHeader.GsoTcpV6, 0, 1428, 54, 16) },
        { "needs_csum start=34 offset=6 gso=udp_l4 size=1472", new VnetHeader(Csum, VnetHeader.GsoUdpL4, 0, 1472, 34, 6) },
        { "gso=udp size=1480", new VnetHeader(0, VnetHeader.GsoUdp, 0, 1480, 0, 0) },
        { "needs_csum start=34 offset=16 gso=tcpv4+ecn size=1448", new VnetHeader(Csum, VnetHeader.GsoTcpV4 | VnetHeader.GsoEcn, 0, 1448, 34, 16) },
        { "gso=type9 size=100", new VnetHeader(0, 9, 0, 100, 0, 0) },
        { "gso=type0+ecn size=0", new VnetHeader(0, VnetHeader.GsoEcn, 0, 0, 0, 0) },
        { "data_valid", new VnetHeader(Valid, 0, 0, 0, 0, 0) },
        { "data_valid hdr_len=54", new VnetHeader(Valid, 0, 54, 0, 0, 0) },
        { "needs_csum start=0 offset=0 data_valid", new VnetHeader(Csum | Valid, 0, 0, 0, 0, 0) },
        { "needs_csum start=65535 offset=65535 gso=tcpv4 size=65535 hdr_len=65535", new VnetHeader(Csum, VnetHeader.GsoTcpV4, 65535, 65535, 65535, 65535) },
    };

    [Theory]
    [MemberData(nameof(RoundTrips))]
    public void ToString_Header_WritesTheText(string text, VnetHeader header) => Assert.Equal(text, header.ToString());

    [Theory]
    [MemberData(nameof(RoundTrips))]
    public void TryParse_ToStringsText_GivesTheHeader(string text, VnetHeader header)
    {
        Assert.True(VnetHeader.TryParse(text, out var parsed, out string? error), error);
        Assert.Null(error);
        Assert.Equal(header, parsed);
        Assert.Equal(header, VnetHeader.Parse(text));
    }

    [Theory]
    [InlineData("gso=tcpv4 size=1448 needs_csum offset=16 start=34", Csum, VnetHeader.GsoTcpV4, 1448, 34, 16)] // any order
    [InlineData("  needs_csum   start=34\toffset=16  ", Csum, 0, 0, 34, 16)]                                  // spaces and tabs
    [InlineData("needs_csum start=034 offset=16", Csum, 0, 0, 34, 16)]                                        // leading zero
    public void TryParse_OtherLayouts_GivesTheHeader(string text, byte flags, byte gso, ushort size, ushort start, ushort offset)
    {
        Assert.True(VnetHeader.TryParse(text, out var parsed), text);
        Assert.Equal(new VnetHeader(flags, gso, 0, size, start, offset), parsed);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("Plain", "not a vnet header field")]
    [InlineData("plain needs_csum start=1 offset=2", "not a vnet header field")]
    [InlineData("needs_csum", "needs_csum wants start= and offset=")]
    [InlineData("needs_csum start=34", "needs_csum wants start= and offset=")]
    [InlineData("start=34 offset=16", "go with needs_csum")]
    [InlineData("data_valid start=34", "go with needs_csum")]
    [InlineData("gso=tcpv4", "gso= wants size=")]
    [InlineData("data_valid size=1448", "size= goes with gso=")]
    [InlineData("hdr_len=66", "write \"plain\"")]
    [InlineData("needs_csum needs_csum start=1 offset=2", "given twice")]
    [InlineData("needs_csum start=1 start=2 offset=2", "given twice")]
    [InlineData("gso=tcpv4 gso=tcpv6 size=1", "gso given twice")]
    [InlineData("needs_csum start=65536 offset=16", "not a number from 0 to 65535")]
    [InlineData("needs_csum start=-1 offset=16", "not a number")]
    [InlineData("needs_csum start=+1 offset=16", "not a number")]
    [InlineData("needs_csum start=0x22 offset=16", "not a number")]
    [InlineData("needs_csum start= offset=16", "not a number")]
    [InlineData("gso=tcpv5 size=1", "gso type")]
    [InlineData("gso=TCPV4 size=1", "gso type")]
    [InlineData("gso=type size=1", "gso type")]
    [InlineData("gso=type128 size=1", "gso type")]
    [InlineData("gso=tcpv4+ecn+ecn size=1", "gso type")]
    [InlineData("gso= size=1", "gso type")]
    [InlineData("needs_csum=1 start=1 offset=2", "not a vnet header field")]
    [InlineData("needs-csum start=1 offset=2", "not a vnet header field")]
    [InlineData("vnet: needs_csum start=1 offset=2", "not a vnet header field")]
    public void TryParse_BadText_FalseWithWhy(string text, string why)
    {
        Assert.False(VnetHeader.TryParse(text, out var parsed, out string? error));
        Assert.Equal(default, parsed);
        Assert.NotNull(error);
        Assert.Contains(why, error, StringComparison.Ordinal);
        var ex = Assert.Throws<FormatException>(() => VnetHeader.Parse(text));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_EveryFlagAndGsoCombination_RoundTrips()
    {
        byte[] gsoTypes = [0, VnetHeader.GsoTcpV4, VnetHeader.GsoUdp, VnetHeader.GsoTcpV6, VnetHeader.GsoUdpL4, 2, 6, 0x7F];
        int checkedHeaders = 0;
        for (byte flags = 0; flags < 4; flags++)
        {
            foreach (byte kind in gsoTypes)
            {
                foreach (byte ecn in new byte[] { 0, VnetHeader.GsoEcn })
                {
                    byte gso = (byte)(kind | ecn);
                    bool csum = (flags & Csum) != 0, isGso = gso != 0;
                    var header = new VnetHeader(flags, gso, (ushort)(flags == 0 && gso == 0 ? 0 : 66),
                        isGso ? (ushort)1448 : (ushort)0, csum ? (ushort)34 : (ushort)0, csum ? (ushort)16 : (ushort)0);
                    Assert.True(VnetHeader.TryParse(header.ToString(), out var parsed, out string? error), $"{header}: {error}");
                    Assert.Equal(header, parsed);
                    checkedHeaders++;
                }
            }
        }
        Assert.Equal(4 * 8 * 2, checkedHeaders);
    }
}
