using System.Globalization;
using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Engine.Tests.Conntrack;

/// <summary>
/// SYN cookies against Linux's formula computed independently (a Python transcription of net/ipv4/syncookies.c and
/// net/ipv6/syncookies.c with the same secret, bytes 0–31), SipHash-2-4 against its reference vectors, and the
/// cookie's validity in time and against tampering.
/// </summary>
public class SynCookiesTests
{
    private const long S = 1_000_000_000L;
    private static readonly byte[] Secret = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

    private static FlowTuple Tuple(string src, string dst, ushort sport, ushort dport) =>
        new(IpAddr.Parse(src), IpAddr.Parse(dst), sport, dport, IpProtocols.Tcp);

    /// <summary>SipHash-2-4, key 00..0f, message 00..(n-1): the reference implementation's outputs.</summary>
    [Theory]
    [InlineData(0, "726fdb47dd0e0e31")]
    [InlineData(8, "93f5f5799a932462")]
    [InlineData(16, "3f2acc7f57c29bdb")]
    [InlineData(40, "0e3ea96b5304a7d0")]
    public void SipHash_ReferenceKeyAndMessage_ReferenceOutput(int length, string expected)
    {
        var message = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
        ulong k0 = 0x0706050403020100UL, k1 = 0x0f0e0d0c0b0a0908UL;
        Assert.Equal(ulong.Parse(expected, NumberStyles.HexNumber, CultureInfo.InvariantCulture), SynCookies.SipHash(message, k0, k1));
        if (length == 16)
            Assert.Equal(SynCookies.SipHash(message, k0, k1), SynCookies.SipHash2(0x0706050403020100UL, 0x0f0e0d0c0b0a0908UL, k0, k1));
    }

    /// <summary>(client, VIP, ports, client ISN, MSS offered, clock) → Linux's cookie and the MSS it encodes.</summary>
    [Theory]
    [InlineData("192.168.101.1", "192.168.101.250", 40000, 443, 1000u, 1460, 1000 * S, 563461977u, 1460)]
    [InlineData("192.168.101.1", "192.168.101.250", 40000, 443, 1000u, 0, 1000 * S, 563461974u, 536)]
    [InlineData("192.168.101.1", "192.168.101.250", 40000, 443, 0xFFFFFFF0u, 1300, 1000 * S, 563460959u, 1300)]
    [InlineData("198.18.0.7", "192.168.101.250", 1234, 443, 4242u, 1460, 60 * S - 1, 3273566025u, 1460)]
    [InlineData("2001:db8:101::1", "2001:db8::fa", 40000, 443, 1000u, 1440, 1000 * S, 3419212869u, 1440)]
    public void Make_KnownTuples_LinuxCookie(string src, string dst, ushort sport, ushort dport, uint isn, ushort mss, long now, uint expected, ushort encoded)
    {
        var cookies = new SynCookies(Secret);
        Assert.Equal(expected, cookies.Make(Tuple(src, dst, sport, dport), isn, mss, now, out ushort e));
        Assert.Equal(encoded, e);
    }

    /// <summary>The MSS a cookie carries: the largest value of Linux's table not above the client's.</summary>
    [Theory]
    [InlineData(false, 0, 536)]
    [InlineData(false, 535, 536)]
    [InlineData(false, 1299, 536)]
    [InlineData(false, 1300, 1300)]
    [InlineData(false, 1439, 1300)]
    [InlineData(false, 1459, 1440)]
    [InlineData(false, 1460, 1460)]
    [InlineData(false, 9000, 1460)]
    [InlineData(true, 1219, 1220)]
    [InlineData(true, 1440, 1440)]
    [InlineData(true, 8940, 8940)]
    [InlineData(true, 65535, 8940)]
    public void Check_CookieMadeForAnMss_ReturnsTheEncodedMss(bool v6, ushort mss, ushort expected)
    {
        var cookies = new SynCookies(Secret);
        var t = v6 ? Tuple("2001:db8:101::1", "2001:db8::fa", 40000, 443) : Tuple("192.168.101.1", "192.168.101.250", 40000, 443);
        uint cookie = cookies.Make(t, 777, mss, 1000 * S, out ushort encoded);
        Assert.Equal(expected, encoded);
        Assert.Equal(expected, cookies.Check(t, 778, cookie + 1, 1000 * S));
    }

    /// <summary>When the ACK comes (seconds after the SYN at 1000 s, minute 16 began at 960 s) and whether it is accepted.</summary>
    [Theory]
    [InlineData(0, true)]
    [InlineData(19, true)]     // 1019 s: the same minute
    [InlineData(20, true)]     // 1020 s: the next minute
    [InlineData(79, true)]     // 1079 s: still the next minute
    [InlineData(80, false)]    // 1080 s: two minutes on (MAX_SYNCOOKIE_AGE)
    [InlineData(-61, false)]   // a clock before the cookie's minute
    public void Check_AckLater_ValidForTwoMinutes(long seconds, bool valid)
    {
        var cookies = new SynCookies(Secret);
        var t = Tuple("192.168.101.1", "192.168.101.250", 40000, 443);
        uint cookie = cookies.Make(t, 1000, 1460, 1000 * S, out _);
        Assert.Equal(valid ? 1460 : 0, cookies.Check(t, 1001, cookie + 1, (1000 + seconds) * S));
    }

    /// <summary>An ACK that does not match the SYN the cookie was made for: rejected (0), but for a sequence number a
    /// little off, which Linux's formula reads as another MSS index (the ISN is added to the cookie, the index too).</summary>
    [Theory]
    [InlineData("ack+1", 0)]
    [InlineData("seq+1", 1440)]
    [InlineData("seq+4", 0)]
    [InlineData("seq-1", 0)]
    [InlineData("sport", 0)]
    [InlineData("src", 0)]
    [InlineData("dport", 0)]
    [InlineData("other secret", 0)]
    public void Check_Tampered_RejectedAsLinuxDoes(string change, int expected)
    {
        var cookies = new SynCookies(Secret);
        var t = Tuple("192.168.101.1", "192.168.101.250", 40000, 443);
        uint cookie = cookies.Make(t, 1000, 1460, 1000 * S, out _);
        uint seq = 1001, ack = cookie + 1;
        var checkedTuple = t;
        var checker = cookies;
        switch (change)
        {
            case "ack+1": ack++; break;
            case "seq+1": seq++; break;
            case "seq+4": seq += 4; break;
            case "seq-1": seq--; break;
            case "sport": checkedTuple = t with { SrcPort = 40001 }; break;
            case "src": checkedTuple = t with { Src = IpAddr.Parse("192.168.101.2") }; break;
            case "dport": checkedTuple = t with { DstPort = 444 }; break;
            case "other secret": checker = new SynCookies([.. Secret.Select(b => (byte)(b ^ 1))]); break;
        }
        Assert.Equal(expected, checker.Check(checkedTuple, seq, ack, 1000 * S));
    }

    [Fact]
    public void Check_ManyRandomAcks_NearlyAllRejected()
    {
        // A flood of ACKs with random numbers: a guess passes when the 24-bit hash part lands on one of 4 MSS indexes
        // in one of the 2 valid minutes (8 in 2^32 after the count's 8 bits must also match: about 1 in 2^29).
        var cookies = new SynCookies(Secret);
        var rnd = new Random(5);
        int accepted = 0;
        for (int i = 0; i < 200_000; i++)
        {
            var t = Tuple("198.18.0.1", "192.168.101.250", (ushort)rnd.Next(1024, 65536), 443);
            if (cookies.Check(t, (uint)rnd.NextInt64(), (uint)rnd.NextInt64(), 1000 * S) != 0) accepted++;
        }
        Assert.Equal(0, accepted);
    }

    [Fact]
    public void Constructor_SecretNot32Bytes_Throws() => Assert.Throws<ArgumentException>(() => new SynCookies(new byte[16]));
}
