// What a run does when a step goes non-finite (a NaN or infinity in the loss or the gradients), so a bad
// batch or a too-high learning rate costs a few steps instead of the run:
//   1. the update is skipped (Trainer already does that: parameters and moments stay as they were);
//   2. the learning rate is halved for the rest of the run (LearningRateScale *= 0.5);
//   3. after ReloadAfter non-finite steps in a row, parameters and trainer state go back to the last state
//      marked good (the last checkpoint), since something in the state itself may be poisoned;
//   4. after GiveUpAfter non-finite steps in all, the run stops: it is diverging, not unlucky.
namespace CharRnn.Engine.Training;

public enum GuardAction { Applied, Skipped, Reloaded, GaveUp }

public readonly record struct GuardedStep(StepResult Result, GuardAction Action, float LearningRateScale, int Failures);

public sealed class DivergenceGuard
{
    private readonly Trainer _trainer;
    private readonly float[] _goodParameters; // (P) the parameters at the last MarkGood
    private TrainerState? _goodState;
    private int _consecutive;

    public DivergenceGuard(Trainer trainer, int reloadAfter = 3, int giveUpAfter = 10)
    {
        if (reloadAfter < 1 || giveUpAfter < reloadAfter) throw new ArgumentOutOfRangeException(nameof(giveUpAfter), "need 1 <= reloadAfter <= giveUpAfter");
        _trainer = trainer;
        ReloadAfter = reloadAfter;
        GiveUpAfter = giveUpAfter;
        _goodParameters = (float[])trainer.Model.Parameters.Clone();
        _goodState = trainer.Capture();
    }

    public int ReloadAfter { get; }
    public int GiveUpAfter { get; }

    /// <summary>Non-finite steps so far in this run.</summary>
    public int Failures { get; private set; }

    /// <summary>Remembers the current parameters and state as the one to go back to (call when checkpointing).</summary>
    public void MarkGood()
    {
        _trainer.Model.Parameters.CopyTo(_goodParameters, 0);
        _goodState = _trainer.Capture();
    }

    public GuardedStep Step()
    {
        StepResult result = _trainer.TrainStep();
        if (result.Applied)
        {
            _consecutive = 0;
            return new GuardedStep(result, GuardAction.Applied, _trainer.LearningRateScale, Failures);
        }
        Failures++;
        _consecutive++;
        _trainer.LearningRateScale *= 0.5f;
        if (Failures >= GiveUpAfter) return new GuardedStep(result, GuardAction.GaveUp, _trainer.LearningRateScale, Failures);
        if (_consecutive < ReloadAfter) return new GuardedStep(result, GuardAction.Skipped, _trainer.LearningRateScale, Failures);
        _goodParameters.CopyTo(_trainer.Model.Parameters, 0);
        float lowered = _trainer.LearningRateScale;
        _trainer.Restore(_goodState!);
        _trainer.LearningRateScale = lowered; // the state goes back; the lesson (a lower rate) stays
        _consecutive = 0;
        return new GuardedStep(result, GuardAction.Reloaded, _trainer.LearningRateScale, Failures);
    }
}
