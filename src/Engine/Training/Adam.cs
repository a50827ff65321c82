// Adam exactly as torch.optim.Adam with default options (no weight decay, no amsgrad):
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// One flat SIMD loop over the parameter slab; the moments share the parameters' layout.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Training;

public sealed class Adam
{
    public Adam(int parameterCount, float learningRate = 2e-3f, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        if (!(learningRate > 0) || !float.IsFinite(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learning rate must be a positive finite number");
        LearningRate = learningRate; Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon;
        FirstMoment = new float[parameterCount];
        SecondMoment = new float[parameterCount];
    }

    public float LearningRate
    {
        get => _learningRate;
        set => _learningRate = value >= 0 && float.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "the learning rate must be a finite number, 0 or more");
    }

    private float _learningRate;
    // Kept in double as torch keeps them in Python floats: it computes 1 - beta in double and only then
    // rounds to the tensor's float, which differs from 1 - (float)beta by ~1e-5 relative for beta2.
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public long StepCount { get; set; }
    public float[] FirstMoment { get; }  // (P) m, Layout order
    public float[] SecondMoment { get; } // (P) v, Layout order

    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients) => Step(parameters, gradients, Simd.Best);

    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients, SimdWidth width)
    {
        if (parameters.Length != FirstMoment.Length || gradients.Length != FirstMoment.Length)
            throw new ArgumentException($"Adam was built for {FirstMoment.Length} parameters, got {parameters.Length} parameters and {gradients.Length} gradients");
        StepCount++;
        // torch computes the corrections in double from python floats, then uses them as float scalars.
        double correction1 = 1 - Math.Pow(Beta1, StepCount), correction2 = 1 - Math.Pow(Beta2, StepCount);
        var s = new Scalars((float)Beta1, (float)(1 - Beta1), (float)Beta2, (float)(1 - Beta2), (float)Epsilon,
            (float)(LearningRate / correction1), (float)Math.Sqrt(correction2));
        int done = width switch
        {
            SimdWidth.Vector512 => Vectorised<Ops512, Vector512<float>>(parameters, gradients, s),
            SimdWidth.Vector256 => Vectorised<Ops256, Vector256<float>>(parameters, gradients, s),
            SimdWidth.Vector128 => Vectorised<Ops128, Vector128<float>>(parameters, gradients, s),
            _ => 0,
        };
        for (int i = done; i < parameters.Length; i++)
        {
            ref float m = ref FirstMoment[i], v = ref SecondMoment[i];
            float g = gradients[i];
            m = s.Beta1 * m + s.OneMinusBeta1 * g;
            v = s.Beta2 * v + s.OneMinusBeta2 * g * g;
            parameters[i] -= s.StepSize * m / (MathF.Sqrt(v) / s.Correction2Sqrt + s.Epsilon);
        }
    }

    private readonly record struct Scalars(float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2, float Epsilon, float StepSize, float Correction2Sqrt);

    private int Vectorised<TOps, TVec>(Span<float> parameters, ReadOnlySpan<float> gradients, Scalars s)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        ref float m = ref MemoryMarshal.GetArrayDataReference(FirstMoment);
        ref float v = ref MemoryMarshal.GetArrayDataReference(SecondMoment);
        TVec b1 = TOps.Broadcast(s.Beta1), c1 = TOps.Broadcast(s.OneMinusBeta1);
        TVec b2 = TOps.Broadcast(s.Beta2), c2 = TOps.Broadcast(s.OneMinusBeta2);
        TVec eps = TOps.Broadcast(s.Epsilon), step = TOps.Broadcast(s.StepSize), corr2 = TOps.Broadcast(s.Correction2Sqrt);
        int w = TOps.Count, i = 0;
        for (; i + w <= parameters.Length; i += w)
        {
            nuint o = (nuint)i;
            TVec vg = TOps.Load(ref g, o);
            // Same operation order as the scalar tail (mul then add, no FMA) so widths agree to the bit.
            TVec vm = TOps.Add(TOps.Multiply(b1, TOps.Load(ref m, o)), TOps.Multiply(c1, vg));
            TVec vv = TOps.Add(TOps.Multiply(b2, TOps.Load(ref v, o)), TOps.Multiply(TOps.Multiply(c2, vg), vg));
            TOps.Store(vm, ref m, o);
            TOps.Store(vv, ref v, o);
            TVec denominator = TOps.Add(TOps.Divide(TOps.Sqrt(vv), corr2), eps);
            TOps.Store(TOps.Subtract(TOps.Load(ref p, o), TOps.Divide(TOps.Multiply(step, vm), denominator)), ref p, o);
        }
        return i;
    }
}
