using UserLB.IO.PcapFiles;

namespace UserLB.IO.Tests.PcapFiles;

public sealed class LinkTypesTests
{
    [Theory]
    [InlineData(LinkTypes.Ethernet, "Ethernet (1)")]
    [InlineData(LinkTypes.LinuxSll, "Linux cooked v1 (SLL) (113)")]
    [InlineData(LinkTypes.Raw, "Raw IP (101)")]
    [InlineData(4242, "unknown link type 4242")]
    public void Describe_LinkType_ReturnsNameAndNumber(int linkType, string expected)
    {
        Assert.Equal(expected, LinkTypes.Describe(linkType));
    }

    [Theory]
    [InlineData(LinkTypes.Ethernet, 1)]
    [InlineData(LinkTypes.Raw, 101)]
    [InlineData(LinkTypes.LinuxSll, 113)]
    [InlineData(LinkTypes.LinuxSll2, 276)]
    [InlineData(LinkTypes.Null, 0)]
    public void Constants_MatchTcpdumpRegistry(int constant, int registryValue)
    {
        Assert.Equal(registryValue, constant);
    }
}
