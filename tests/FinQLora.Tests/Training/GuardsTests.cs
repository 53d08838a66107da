using System.Runtime.InteropServices;
using FinQLora.Training;

namespace FinQLora.Tests.Training;

public class NonFiniteGuardTests
{
    [Fact]
    public void Finite_steps_pass_and_reset_the_run_of_skips()
    {
        var g = new NonFiniteGuard(3);
        Assert.Equal(NonFiniteGuard.Verdict.Step, g.Check(1.5, 0.3));
        Assert.Equal(NonFiniteGuard.Verdict.Skip, g.Check(double.NaN, 0.3));
        Assert.Equal(NonFiniteGuard.Verdict.Skip, g.Check(1.0, double.PositiveInfinity));
        Assert.Equal(2, g.InARow);
        Assert.Equal(NonFiniteGuard.Verdict.Step, g.Check(1.0, 0.5));
        Assert.Equal((0, 2L), (g.InARow, g.Skipped));
    }

    [Fact]
    public void K_non_finite_steps_in_a_row_stop_the_run()
    {
        var g = new NonFiniteGuard(3);
        Assert.Equal(NonFiniteGuard.Verdict.Skip, g.Check(double.NaN, double.NaN));
        Assert.Equal(NonFiniteGuard.Verdict.Skip, g.Check(double.NegativeInfinity, 1));
        Assert.Equal(NonFiniteGuard.Verdict.Stop, g.Check(double.NaN, 1));
        var e = g.StopError(40, "runs/x/checkpoints/step-000037");
        Assert.Equal(NonFiniteGuard.ExitCode, e.ExitCode);
        Assert.Contains("3 steps in a row had a NaN/Inf loss or gradient norm", e.Message);
    }

    [Fact]
    public void A_resumed_guard_continues_its_counts()
    {
        var g = new NonFiniteGuard(2, skipped: 7, inARow: 1);
        Assert.Equal(NonFiniteGuard.Verdict.Stop, g.Check(double.NaN, 0));
        Assert.Equal(8, g.Skipped);
    }

    [Fact]
    public void One_allowed_means_the_first_bad_step_stops() =>
        Assert.Equal(NonFiniteGuard.Verdict.Stop, new NonFiniteGuard(1).Check(double.NaN, 0));

    [Fact]
    public void The_skip_message_says_which_value_was_bad()
    {
        var g = new NonFiniteGuard(5);
        g.Check(2.0, double.NaN);
        Assert.Equal("step 9: non-finite gradient norm (NaN), step skipped (1 in a row, 1 in all; the run stops at 5 in a row)", g.SkipMessage(9, 2.0, double.NaN));
    }
}

public class OutOfMemoryTests
{
    private static readonly Exception Oom = new ExternalException(
        "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.8 GiB of which 1.1 GiB is free.\nException raised from malloc at ...");

    [Fact]
    public void Recognises_libtorch_out_of_memory_errors_also_when_wrapped()
    {
        Assert.True(OutOfMemory.IsCudaOom(Oom));
        Assert.True(OutOfMemory.IsCudaOom(new InvalidOperationException("step failed", Oom)));
        Assert.False(OutOfMemory.IsCudaOom(new ExternalException("shape mismatch")));
    }

    [Fact]
    public void The_message_names_the_batch_the_length_and_what_to_lower()
    {
        var e = OutOfMemory.Describe(Oom, "step 12", batchSize: 4, sequenceLength: 3500, gradAccum: 2, gradCheckpointing: false, lossChunkSize: 1024);
        Assert.Equal(OutOfMemory.ExitCode, e.ExitCode);
        Assert.StartsWith("CUDA out of memory at step 12 with a micro-batch of 4 sequence(s) × 3500 tokens: ", e.Message);
        Assert.Contains("--set training.batch_size=2 --set training.grad_accum=4 keeps the 8 sequences per step", e.Message);
        Assert.Contains("lower data.max_length", e.Message);
        Assert.Contains("turn on training.grad_checkpointing", e.Message);
        Assert.Contains("Tried to allocate 2.00 GiB", e.Message);
        Assert.DoesNotContain("malloc", e.Message);
    }

    [Fact]
    public void A_batch_of_one_only_suggests_shorter_sequences()
    {
        var e = OutOfMemory.Describe(Oom, "validation", 1, 512, 8, true, 256);
        Assert.DoesNotContain("batch_size", e.Message);
        Assert.DoesNotContain("grad_checkpointing", e.Message);
        Assert.Contains("lower data.max_length (now 512 tokens", e.Message);
    }
}

public partial class StopSignalTests
{
    [Fact]
    public void A_manual_request_is_seen_by_the_loop()
    {
        using var s = StopSignal.Manual();
        Assert.False(s.Requested);
        s.Request();
        Assert.True(s.Requested);
        Assert.Equal("request", s.Signal);
    }

    [Fact]
    public void SIGTERM_sets_the_flag_instead_of_ending_the_process()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var s = StopSignal.Listen();
        Assert.Equal(0, kill(Environment.ProcessId, 15));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!s.Requested && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.True(s.Requested);
        Assert.Equal("SIGTERM", s.Signal);
    }

    [Fact]
    public void The_resume_hint_names_the_command_to_continue() =>
        Assert.Equal("stopped at step 40 on request; the checkpoint is in runs/s1/checkpoints. Resume with: finqlora train --config c.yaml --resume runs/s1",
            StopSignal.ResumeHint("finqlora train --config c.yaml --resume runs/s1", "runs/s1", 40));

    [LibraryImport("libc", EntryPoint = "kill")] private static partial int kill(int pid, int sig);
}
