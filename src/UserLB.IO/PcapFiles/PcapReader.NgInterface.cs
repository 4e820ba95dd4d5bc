namespace UserLB.IO.PcapFiles;

public sealed partial class PcapReader
{
    /// <summary>Per-interface data of the current pcapng section.</summary>
    private readonly struct NgInterface
    {
        private readonly ScaleKind _kind;
        private readonly ulong _factor;
        private readonly int _shift;
        private readonly long _offsetNanos;

        private NgInterface(int linkType, uint snapLength, ScaleKind kind, ulong factor, int shift, long offsetNanos,
            bool subMicrosecond, string? name)
        {
            Name = name;
            LinkType = linkType;
            SnapLength = snapLength;
            _kind = kind;
            _factor = factor;
            _shift = shift;
            _offsetNanos = offsetNanos;
            SubMicrosecond = subMicrosecond;
        }

        private enum ScaleKind : byte
        {
            Multiply,
            Divide,
            PowerOfTwo,
        }

        public int LinkType { get; }

        public uint SnapLength { get; }

        public bool SubMicrosecond { get; }

        /// <summary>The interface's if_name option, or null.</summary>
        public string? Name { get; }

        public static bool TryCreate(int linkType, uint snapLength, byte tsResol, long tsOffsetSeconds, string? name,
            out NgInterface result)
        {
            long offsetNanos = unchecked(tsOffsetSeconds * NanosPerSecond);
            int exponent = tsResol & 0x7F;
            if ((tsResol & 0x80) != 0)
            {
                // Units of 2^-exponent seconds.
                if (exponent > 63)
                {
                    result = default;
                    return false;
                }

                result = new NgInterface(linkType, snapLength, ScaleKind.PowerOfTwo, 0, exponent, offsetNanos,
                    subMicrosecond: exponent > 19, name);
                return true;
            }

            // Units of 10^-exponent seconds.
            if (exponent > 19 + 9)
            {
                result = default;
                return false;
            }

            result = exponent <= 9
                ? new NgInterface(linkType, snapLength, ScaleKind.Multiply, Pow10(9 - exponent), 0, offsetNanos,
                    subMicrosecond: exponent > 6, name)
                : new NgInterface(linkType, snapLength, ScaleKind.Divide, Pow10(exponent - 9), 0, offsetNanos,
                    subMicrosecond: true, name);
            return true;
        }

        public long ToNanos(ulong timestamp)
        {
            ulong nanos = _kind switch
            {
                ScaleKind.Multiply => unchecked(timestamp * _factor),
                ScaleKind.Divide => timestamp / _factor,
                _ => (ulong)(((UInt128)timestamp * NanosPerSecond) >> _shift),
            };
            return unchecked((long)nanos + _offsetNanos);
        }

        private static ulong Pow10(int exponent)
        {
            ulong value = 1;
            for (int i = 0; i < exponent; i++)
            {
                value *= 10;
            }

            return value;
        }
    }
}
