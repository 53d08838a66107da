using System.Buffers.Binary;

namespace FinQLora.Reports;

/// <summary>Records the resolution in a PNG (the pHYs chunk, pixels per metre), which ScottPlot does not write.</summary>
public static class Png
{
    /// <summary>Rewrites the PNG file at <paramref name="path"/> (atomically) with <paramref name="dpi"/> recorded.</summary>
    public static void SetDpi(string path, int dpi) => IO.AtomicFile.WriteAllBytes(path, WithDpi(File.ReadAllBytes(path), dpi, path));

    /// <summary>The PNG <paramref name="bytes"/> with <paramref name="dpi"/> recorded (any earlier pHYs chunk dropped).</summary>
    public static byte[] WithDpi(byte[] bytes, int dpi, string what = "image")
    {
        if (bytes.Length < 33 || bytes[12] != 'I' || bytes[13] != 'H' || bytes[14] != 'D' || bytes[15] != 'R')
            throw new InvalidDataException($"{what}: not a PNG");
        int ppm = (int)Math.Round(dpi / 0.0254);
        var chunk = new byte[4 + 4 + 9 + 4];
        BinaryPrimitives.WriteInt32BigEndian(chunk, 9);
        "pHYs"u8.CopyTo(chunk.AsSpan(4));
        BinaryPrimitives.WriteInt32BigEndian(chunk.AsSpan(8), ppm);
        BinaryPrimitives.WriteInt32BigEndian(chunk.AsSpan(12), ppm);
        chunk[16] = 1;   // unit: metre
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(17), Crc32(chunk.AsSpan(4, 13)));
        // drop an existing pHYs, insert ours after IHDR (8-byte signature + 25-byte IHDR chunk)
        var rest = bytes.AsSpan(33).ToArray();
        using var output = new MemoryStream();
        output.Write(bytes, 0, 33);
        output.Write(chunk);
        for (int i = 0; i < rest.Length;)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(rest.AsSpan(i));
            bool phys = rest[i + 4] == 'p' && rest[i + 5] == 'H' && rest[i + 6] == 'Y' && rest[i + 7] == 's';
            if (!phys) output.Write(rest, i, len + 12);
            i += len + 12;
        }
        return output.ToArray();
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>The DPI recorded in a PNG's pHYs chunk, or null.</summary>
    public static double? ReadDpi(string path)
    {
        var b = File.ReadAllBytes(path);
        for (int i = 8; i + 12 <= b.Length;)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(i));
            if (b[i + 4] == 'p' && b[i + 5] == 'H' && b[i + 6] == 'Y' && b[i + 7] == 's' && b[i + 16] == 1)
                return BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(i + 8)) * 0.0254;
            i += len + 12;
        }
        return null;
    }
}
