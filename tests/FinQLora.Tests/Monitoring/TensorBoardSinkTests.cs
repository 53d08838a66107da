using System.Text;
using FinQLora.Monitoring;

namespace FinQLora.Tests.Monitoring;

public class TensorBoardSinkTests
{
    /// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit, as TFRecord specifies.</summary>
    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return ~crc;
    }

    private static uint Masked(ReadOnlySpan<byte> data)
    {
        uint c = Crc32C(data);
        return ((c >> 15) | (c << 17)) + 0xa282ead8u;
    }

    /// <summary>TFRecord framing: u64 length, masked CRC of the length, payload, masked CRC of the payload.</summary>
    private static List<byte[]> Records(string file)
    {
        var bytes = File.ReadAllBytes(file);
        var records = new List<byte[]>();
        int pos = 0;
        while (pos < bytes.Length)
        {
            var lenBytes = bytes.AsSpan(pos, 8);
            long len = BitConverter.ToInt64(lenBytes);
            Assert.Equal(Masked(lenBytes), BitConverter.ToUInt32(bytes, pos + 8));
            var payload = bytes.AsSpan(pos + 12, (int)len).ToArray();
            Assert.Equal(Masked(payload), BitConverter.ToUInt32(bytes, pos + 12 + (int)len));
            records.Add(payload);
            pos += 12 + (int)len + 4;
        }
        return records;
    }

    [Fact]
    public void Writes_valid_tfrecord_event_files_with_the_scalars()
    {
        Assert.Equal(0xE3069283u, Crc32C(Encoding.ASCII.GetBytes("123456789")));  // the CRC-32C check value
        var dir = Path.Combine(Fixtures.TempDir(), "tensorboard");
        using (var tb = new TensorBoardSink(dir))
        {
            tb.Train(new TrainMetrics("stage1", 3, 0.1, 1.5, 2e-4, 0.7, 500, 0.2, null));
            tb.Val(new ValMetrics("stage1", 3, 1.25));
        }
        var file = Assert.Single(Directory.GetFiles(dir, "events.out.tfevents.*"));
        var records = Records(file);
        Assert.Contains("brain.Event:2", Encoding.ASCII.GetString(records[0]));
        Assert.Equal(1 + 4 + 1, records.Count);  // file version, 4 train scalars (no GPU memory), 1 val
        var val = records[^1];
        Assert.Contains("stage1/val/loss", Encoding.ASCII.GetString(val));
        // the summary value's simple_value (field 2, fixed32) = 0x15 then the float 1.25 little-endian
        Assert.True(val.AsSpan().IndexOf((byte[])[0x15, .. BitConverter.GetBytes(1.25f)]) >= 0);
    }

    [Fact]
    public void Task_metrics_become_one_scalar_per_task_and_metric_and_the_selected_value()
    {
        var dir = Path.Combine(Fixtures.TempDir(), "tensorboard");
        using (var tb = new TensorBoardSink(dir))
            tb.Tasks(new TaskMetrics("s1", 4, new Dictionary<string, int> { ["fpb"] = 8 },
                new Dictionary<string, SortedDictionary<string, double>> { ["fpb"] = new() { ["acc"] = 0.5, ["f1"] = 0.375 } }, "fpb.f1", 0.375, true));
        var records = Records(Assert.Single(Directory.GetFiles(dir, "events.out.tfevents.*")));
        Assert.Equal(["s1/tasks/fpb/acc", "s1/tasks/fpb/f1", "s1/tasks/select_best"],
            records.Skip(1).Select(r => Encoding.ASCII.GetString(r)).Select(t => new[] { "s1/tasks/fpb/acc", "s1/tasks/fpb/f1", "s1/tasks/select_best" }.Single(t.Contains)));
        Assert.True(records[^1].AsSpan().IndexOf((byte[])[0x15, .. BitConverter.GetBytes(0.375f)]) >= 0);
    }
}
