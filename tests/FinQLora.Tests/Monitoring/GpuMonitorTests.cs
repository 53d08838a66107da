using System.Text.Json.Nodes;
using FinQLora.Monitoring;

namespace FinQLora.Tests.Monitoring;

public class GpuMonitorTests
{
    [Fact]
    public void A_sample_serialises_to_the_documented_line()
    {
        var s = new GpuSample("2026-11-28T20:00:01Z", 1.5, 0, 97, 7000, 143771, 450.2, 55, 1980);
        Assert.Equal("""{"time":"2026-11-28T20:00:01Z","t_s":1.5,"gpu":0,"util_pct":97,"mem_used_mib":7000,"mem_total_mib":143771,"power_w":450.2,"temp_c":55,"sm_clock_mhz":1980}""", s.ToJson());
    }

    [Fact]
    public void Without_an_nvidia_driver_it_writes_one_note_and_nothing_else()
    {
        if (File.Exists("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1") || Directory.Exists("/proc/driver/nvidia")) return;  // a GPU machine: not this path
        var path = Path.Combine(Fixtures.TempDir(), "gpu.jsonl");
        using (var m = GpuMonitor.Start(path, TimeSpan.FromMilliseconds(20)))
        {
            Assert.False(m.Available);
            Assert.StartsWith("no NVIDIA GPU monitoring: ", m.Note);
            Thread.Sleep(100);
            Assert.Null(m.Latest());
        }
        var line = Assert.Single(File.ReadAllLines(path));
        var o = JsonNode.Parse(line)!.AsObject();
        Assert.StartsWith("no NVIDIA GPU monitoring", o["note"]!.GetValue<string>());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", o["time"]!.GetValue<string>());
    }

    [Fact]
    public void With_an_nvidia_driver_it_samples_real_values()
    {
        var path = Path.Combine(Fixtures.TempDir(), "gpu.jsonl");
        using (var m = GpuMonitor.Start(path, TimeSpan.FromMilliseconds(100)))
        {
            if (!m.Available) return;  // no GPU here: covered by the test above
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (m.Latest() is null && DateTime.UtcNow < deadline) Thread.Sleep(20);
            var s = m.Latest()!;
            Assert.InRange(s.MemTotalMib!.Value, 1024, 1L << 22);
            Assert.InRange(s.MemUsedMib!.Value, 0, s.MemTotalMib.Value);
            Assert.InRange(s.UtilPct!.Value, 0u, 100u);
            Assert.InRange(s.TempC!.Value, 1u, 120u);
        }
        var first = JsonNode.Parse(File.ReadLines(path).First())!.AsObject();
        Assert.Equal(0, first["gpu"]!.GetValue<int>());
    }

    [Fact]
    public void The_background_thread_samples_every_gpu_each_interval()
    {
        var path = Path.Combine(Fixtures.TempDir(), "gpu.jsonl");
        int calls = 0;
        using (var m = GpuMonitor.StartWith(path, 2, i => { Interlocked.Increment(ref calls); return new GpuReadingSnapshot(50, 1000 + i, 80000, 100.5, 40, 1500); }, TimeSpan.FromMilliseconds(20)))
        {
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (Volatile.Read(ref calls) < 6 && DateTime.UtcNow < deadline) Thread.Sleep(10);
            Assert.Equal(1001, m.Latest(1)!.MemUsedMib);
        }
        var lines = File.ReadAllLines(path).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.True(lines.Count >= 6);
        Assert.Equal([0, 1], lines.Take(2).Select(o => o["gpu"]!.GetValue<int>()));
        Assert.All(lines, o => Assert.Equal(80000, o["mem_total_mib"]!.GetValue<long>()));
    }

    [Fact]
    public void A_failing_reading_is_skipped_not_fatal()
    {
        var path = Path.Combine(Fixtures.TempDir(), "gpu.jsonl");
        int calls = 0;
        using (GpuMonitor.StartWith(path, 1, _ => Interlocked.Increment(ref calls) % 2 == 1 ? throw new InvalidOperationException("driver hiccup") : new GpuReadingSnapshot(1, 2, 3, null, null, null), TimeSpan.FromMilliseconds(10)))
        {
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (Volatile.Read(ref calls) < 4 && DateTime.UtcNow < deadline) Thread.Sleep(10);
        }
        var lines = File.ReadAllLines(path);
        Assert.NotEmpty(lines);
        Assert.Contains("\"power_w\":null", lines[0]);
    }
}
