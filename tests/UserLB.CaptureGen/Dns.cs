using System.Buffers.Binary;
using System.Net;

namespace UserLB.CaptureGen;

/// <summary>Minimal DNS messages (RFC 1035), so the UDP scenarios carry payloads a decoder shows as what they are.</summary>
public static class Dns
{
    /// <summary>A recursive query for the A record of <paramref name="name"/>.</summary>
    public static byte[] Query(ushort id, string name) => Message(id, 0x0100, name, null);

    /// <summary>The answer to <see cref="Query"/>: one A record, TTL 300.</summary>
    public static byte[] Answer(ushort id, string name, IPAddress address) => Message(id, 0x8180, name, address);

    private static byte[] Message(ushort id, ushort flags, string name, IPAddress? answer)
    {
        ArgumentNullException.ThrowIfNull(name);
        var m = new List<byte>();
        void U16(int v) { m.Add((byte)(v >> 8)); m.Add((byte)v); }
        U16(id);
        U16(flags);
        U16(1); // questions
        U16(answer is null ? 0 : 1);
        U16(0);
        U16(0);
        foreach (var label in name.Split('.'))
        {
            m.Add((byte)label.Length);
            foreach (char c in label) m.Add((byte)c);
        }
        m.Add(0);
        U16(1); // A
        U16(1); // IN
        if (answer is not null)
        {
            U16(0xC00C); // the name in the question
            U16(1);
            U16(1);
            var ttl = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(ttl, 300);
            m.AddRange(ttl);
            var a = answer.GetAddressBytes();
            U16(a.Length);
            m.AddRange(a);
        }
        return [.. m];
    }
}
