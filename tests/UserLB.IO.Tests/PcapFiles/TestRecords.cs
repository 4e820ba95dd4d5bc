using UserLB.IO.PcapFiles;

namespace UserLB.IO.Tests.PcapFiles;

internal sealed record Rec(long TimestampNanos, byte[] Data, int OriginalLength, int LinkType, int InterfaceId);

internal static class TestRecords
{
    public static PcapReader ReaderFor(byte[] file, string name = "test.pcap") =>
        new(new MemoryStream(file, writable: false), name);

    public static List<Rec> ReadAll(PcapReader reader)
    {
        var list = new List<Rec>();
        while (reader.TryReadNext(out PcapRecord r))
        {
            list.Add(new Rec(r.TimestampNanos, r.Data.ToArray(), r.OriginalLength, r.LinkType, r.InterfaceId));
        }

        return list;
    }

    public static byte[] Frame(int length, byte seed)
    {
        var data = new byte[length];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = unchecked((byte)(seed + (i * 7)));
        }

        return data;
    }
}
