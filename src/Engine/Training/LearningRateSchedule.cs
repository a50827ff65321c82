// The learning rate as a function of the optimizer step, so a run (and a resumed run) follows the same curve
// whatever the wall clock does. Constant keeps the base rate; Cosine follows half a cosine from the base rate
// at step 1 down to Minimum at TotalSteps and stays there: most of the run at a high rate, then a slow
// settle that typically lowers held-out loss well below what the constant rate ends at.
namespace CharRnn.Engine.Training;

public enum ScheduleKind { Constant, Cosine }

public readonly record struct LearningRateSchedule(ScheduleKind Kind, float Base, float Minimum, long TotalSteps)
{
    public static LearningRateSchedule Constant(float rate) => new(ScheduleKind.Constant, rate, rate, 1);

    /// <summary>The rate for 1-based step.</summary>
    public float At(long step)
    {
        if (Kind == ScheduleKind.Constant || TotalSteps <= 1) return Base;
        double progress = Math.Clamp((step - 1) / (double)(TotalSteps - 1), 0, 1);
        return (float)(Minimum + (Base - Minimum) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    public static ScheduleKind ParseKind(string name) => name.ToLowerInvariant() switch
    {
        "constant" => ScheduleKind.Constant,
        "cosine" => ScheduleKind.Cosine,
        _ => throw new ArgumentException($"unknown learning-rate schedule '{name}'; expected constant or cosine", nameof(name)),
    };
}
