using UserLB.Engine.Conntrack;
using S = UserLB.Engine.Conntrack.TcpState;

namespace UserLB.Engine.Tests.Conntrack;

/// <summary>TCP states' conntrack names and the kernel's default timeouts per state.</summary>
public class TcpStateNamesAndTimeoutsTests
{
    // ---------------------------------------------------------------- names

    [Theory]
    [InlineData(S.None, "NONE")]
    [InlineData(S.SynSent, "SYN_SENT")]
    [InlineData(S.SynRecv, "SYN_RECV")]
    [InlineData(S.Established, "ESTABLISHED")]
    [InlineData(S.FinWait, "FIN_WAIT")]
    [InlineData(S.CloseWait, "CLOSE_WAIT")]
    [InlineData(S.LastAck, "LAST_ACK")]
    [InlineData(S.TimeWait, "TIME_WAIT")]
    [InlineData(S.Close, "CLOSE")]
    [InlineData(S.SynSent2, "SYN_SENT2")]
    [InlineData((S)42, "UNKNOWN")]
    public void ToConntrackName_State_KernelName(S state, string expected)
    {
        Assert.Equal(expected, state.ToConntrackName());
        Assert.Same(state.ToConntrackName(), state.ToConntrackName());
    }

    // ---------------------------------------------------------------- timeouts

    [Theory]
    [InlineData(S.None, 0)]
    [InlineData(S.SynSent, 120)]
    [InlineData(S.SynRecv, 60)]
    [InlineData(S.Established, 432000)]
    [InlineData(S.FinWait, 120)]
    [InlineData(S.CloseWait, 60)]
    [InlineData(S.LastAck, 30)]
    [InlineData(S.TimeWait, 120)]
    [InlineData(S.Close, 10)]
    [InlineData(S.SynSent2, 120)]
    [InlineData((S)200, 0)]
    public void TcpTimeoutSeconds_State_KernelDefault(S state, long expected)
    {
        Assert.Equal(expected, ConntrackTimeouts.TcpTimeoutSeconds(state));
        Assert.Equal(expected, ConntrackTimeoutSettings.Default.TcpTimeout(state));
        Assert.Equal(expected, new ConntrackTimeoutSettings().TcpTimeout(state));
    }

    [Fact]
    public void ConntrackTimeoutSettings_Default_OtherKernelDefaults()
    {
        ConntrackTimeoutSettings d = ConntrackTimeoutSettings.Default;

        Assert.Equal(300, d.TcpRetransSeconds);
        Assert.Equal(300, d.TcpUnacknowledgedSeconds);
        Assert.Equal(30, d.UdpSeconds);
        Assert.Equal(120, d.UdpStreamSeconds);
        Assert.Equal(30, d.IcmpSeconds);
        Assert.Equal(600, d.GenericSeconds);
        Assert.Equal(30, d.UdpTimeout(stream: false));
        Assert.Equal(120, d.UdpTimeout(stream: true));
    }

    [Fact]
    public void ConntrackTimeoutSettings_Override_ChangesOnlyThatState()
    {
        ConntrackTimeoutSettings custom = ConntrackTimeoutSettings.Default.WithTcp(S.Established, 3600).WithTcp(S.Close, 1);

        Assert.Equal(3600, custom.TcpTimeout(S.Established));
        Assert.Equal(1, custom.TcpTimeout(S.Close));
        Assert.Equal(120, custom.TcpTimeout(S.TimeWait));
        Assert.Equal(432000, ConntrackTimeoutSettings.Default.TcpTimeout(S.Established));
        Assert.NotEqual(ConntrackTimeoutSettings.Default, custom);
        Assert.Equal(new ConntrackTimeoutSettings(), ConntrackTimeoutSettings.Default);
        Assert.Equal(ConntrackTimeoutSettings.Default.WithTcp(S.Close, 1).WithTcp(S.Established, 3600), custom);
        Assert.Equal(ConntrackTimeoutSettings.Default, ConntrackTimeoutSettings.Default with { });
    }

    [Theory]
    [InlineData(S.Established, false, 300)] // mid-stream pickup without reply: capped at unacknowledged
    [InlineData(S.Established, true, 432000)]
    [InlineData(S.SynSent, false, 120)]
    [InlineData(S.Close, false, 10)]
    [InlineData(S.TimeWait, true, 120)]
    public void TcpTimeout_SeenReply_CapsUnrepliedEstablished(S state, bool seenReply, long expected)
    {
        Assert.Equal(expected, ConntrackTimeoutSettings.Default.TcpTimeout(state, seenReply));
    }
}
