using System.Text;
using UserLB.IO.Replay;
using UserLB.Packets;

namespace UserLB.IO.Tests.Replay;

public sealed class ReplayInputTests
{
    [Theory]
    [InlineData("", "plain")]
    [InlineData("a story\nanother line", "plain")]
    [InlineData("vnet: needs_csum start=34 offset=16", "needs_csum start=34 offset=16")]
    [InlineData("#7: farm app\nvnet: needs_csum start=34 offset=16 gso=tcpv4 size=1448 hdr_len=54", "needs_csum start=34 offset=16 gso=tcpv4 size=1448 hdr_len=54")]
    [InlineData("vnet:data_valid", "data_valid")]
    [InlineData("vnet: plain", "plain")]
    [InlineData("the vnet: line must start the line", "plain")]
    [InlineData("Vnet: gso=tcpv9 size=1", "plain")] // not a vnet line: the prefix is lower case
    public void TryGetOffload_Comments_TheVnetLinesHeader(string comments, string expected)
    {
        Assert.True(ReplayInput.TryGetOffload(Encoding.UTF8.GetBytes(comments), out var offload, out string? error), error);
        Assert.Null(error);
        Assert.Equal(expected, offload.ToString());
    }

    [Theory]
    [InlineData("vnet: gso=tcpv9 size=1", "comment line \"vnet: gso=tcpv9 size=1\": \"gso=tcpv9\": the gso type is not")]
    [InlineData("vnet:", "comment line \"vnet:\": empty")]
    [InlineData("story\nvnet: needs_csum", "comment line \"vnet: needs_csum\": needs_csum wants start= and offset=")]
    [InlineData("vnet: data_valid\nvnet: data_valid", "a second comment line \"vnet: data_valid\": one vnet line per frame")]
    public void TryGetOffload_BadVnetLine_FalseNamingTheLine(string comments, string why)
    {
        Assert.False(ReplayInput.TryGetOffload(Encoding.UTF8.GetBytes(comments), out _, out string? error));
        Assert.NotNull(error);
        Assert.StartsWith(why, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryGetOffload_HeaderToStringAsLine_RoundTrips()
    {
        var header = new VnetHeader(VnetHeader.FlagNeedsChecksum, VnetHeader.GsoTcpV6 | VnetHeader.GsoEcn, 74, 1428, 54, 16);
        Assert.True(ReplayInput.TryGetOffload(Encoding.UTF8.GetBytes("vnet: " + header), out var read, out _));
        Assert.Equal(header, read);
    }
}
