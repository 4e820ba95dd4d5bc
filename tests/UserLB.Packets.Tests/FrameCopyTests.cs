namespace UserLB.Packets.Tests;

public class FrameCopyTests
{
    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(1, 0, 1)]
    [InlineData(60, 3, 64)]
    [InlineData(118, 7, 2048)]
    [InlineData(1514, 1, 1514)]
    [InlineData(65_550, 5, 65_600)]
    public void Copy_SourceIntoLongerDestination_BytesCopiedRestUntouched(int length, int sourceOffset, int destinationLength)
    {
        var backing = new byte[length + sourceOffset];
        for (int i = 0; i < backing.Length; i++) backing[i] = (byte)(i * 7 + 1);
        var source = backing.AsSpan(sourceOffset, length);
        var destination = new byte[destinationLength];
        Array.Fill(destination, (byte)0xEE);

        FrameCopy.Copy(source, destination);

        Assert.True(source.SequenceEqual(destination.AsSpan(0, length)));
        Assert.All(destination[length..], b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void Copy_DestinationShorter_ThrowsAndCopiesNothing()
    {
        var destination = new byte[10];

        Assert.Throws<ArgumentException>(() => FrameCopy.Copy(new byte[11], destination));
        Assert.All(destination, b => Assert.Equal(0, b));
    }
}
