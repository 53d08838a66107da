using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace FinQLora.Data.Originals;

/// <summary>
/// A split that depends only on an example's own text: the first 4 bytes of sha256(UTF-8 key), as a
/// big-endian number mod 100, below <c>testPercent</c> → test, below test+valid → valid, else train.
/// The same sentence lands in the same split on every machine, whatever the file order.
/// </summary>
public static class DeterministicSplit
{
    public static string Of(string key, int testPercent = 20, int validPercent = 16)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        uint bucket = BinaryPrimitives.ReadUInt32BigEndian(hash) % 100;
        return bucket < testPercent ? "test" : bucket < testPercent + validPercent ? "valid" : "train";
    }

    /// <summary>Short stable id part: the first 12 hex digits of sha256(key).</summary>
    public static string Id(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..12];
}
