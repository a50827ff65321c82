// Everything a Trainer carries from one step to the next besides the parameters themselves: where it is in
// the data, the optimizer's moments and step count, the hidden state each stream carries into its next
// window, and the dropout mask generator. Captured after a step and restored into a fresh Trainer over the
// same data and options, the next step is bit-identical to the one the original would have taken.
namespace CharRnn.Engine.Training;

public sealed record TrainerState(
    long Step,
    int Epoch,
    int Window,
    long AdamStep,
    float[] FirstMoment,   // (P) Adam m, Layout order
    float[] SecondMoment,  // (P) Adam v
    float[][] Hidden,      // per layer (B, H) hidden state carried into the next window, streams in order
    float[][] Cell,        // per layer (B, H) LSTM cell state carried in; empty for GRU and RNN
    ulong[] MaskRng,       // (16) the dropout mask generator
    float LearningRateScale = 1f); // what the divergence guard has lowered the scheduled rate to
