using FinQLora.Config;
using FinQLora.Training;

namespace FinQLora.Tests.Training;

public class LrScheduleTests
{
    // base 1e-3, 10 warm-up steps, 110 steps in all: the decay spans steps 10..110 (100 steps)
    private static double At(Schedule s, long step) => LrSchedule.At(s, 1e-3, step, 10, 110);

    [Theory]
    [InlineData(Schedule.Constant)]
    [InlineData(Schedule.Linear)]
    [InlineData(Schedule.Cosine)]
    public void Warm_up_rises_linearly_from_zero(Schedule s)
    {
        Assert.Equal(0.0, At(s, 0));
        Assert.Equal(1e-4, At(s, 1), 12);
        Assert.Equal(5e-4, At(s, 5), 12);
        Assert.Equal(1e-3, At(s, 10), 12);
    }

    [Fact]
    public void Constant_stays_at_the_base_rate() => Assert.Equal(1e-3, At(Schedule.Constant, 97), 12);

    [Fact]
    public void Linear_falls_to_zero_at_the_last_step()
    {
        Assert.Equal(7.5e-4, At(Schedule.Linear, 35), 12);   // 1 − 25/100
        Assert.Equal(5e-4, At(Schedule.Linear, 60), 12);     // 1 − 50/100
        Assert.Equal(1e-5, At(Schedule.Linear, 109), 12);    // 1 − 99/100
        Assert.Equal(0.0, At(Schedule.Linear, 110), 12);
        Assert.Equal(0.0, At(Schedule.Linear, 500), 12);     // clamped, never negative
    }

    [Fact]
    public void Cosine_follows_half_a_cosine()
    {
        Assert.Equal(8.535533905932737e-4, At(Schedule.Cosine, 35), 12);  // ½(1 + cos(π/4))
        Assert.Equal(5e-4, At(Schedule.Cosine, 60), 12);                   // ½(1 + cos(π/2))
        Assert.Equal(1.464466094067262e-4, At(Schedule.Cosine, 85), 12);  // ½(1 + cos(3π/4))
        Assert.Equal(0.0, At(Schedule.Cosine, 110), 12);
        Assert.Equal(0.0, At(Schedule.Cosine, 130), 12);                    // does not rise again
    }

    [Fact]
    public void No_warm_up_starts_at_the_base_rate()
    {
        Assert.Equal(2e-4, LrSchedule.At(Schedule.Cosine, 2e-4, 0, 0, 100), 15);
        Assert.Equal(2e-4 * 0.5, LrSchedule.At(Schedule.Linear, 2e-4, 50, 0, 100), 15);
    }

    [Fact]
    public void A_training_section_resolves_its_warm_up_ratio()
    {
        var t = new TrainingSection { Lr = 1e-3, Schedule = Schedule.Linear, WarmupRatio = 0.1 };
        Assert.Equal(5e-4, LrSchedule.At(t, 5, 100), 12);   // warm-up of 10
        Assert.Equal(5e-4, LrSchedule.At(t, 55, 100), 12);  // 1 − 45/90
    }
}
