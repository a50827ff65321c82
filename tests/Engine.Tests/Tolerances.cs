// Every tolerance the tests use, named, with the reason it is what it is.
namespace CharRnn.Engine.Tests;

internal static class Tolerances
{
    /// <summary>Centered differences in double with step 1e-6 agree with analytic gradients to ~1e-8 in
    /// relative error on smooth functions of this size; 1e-5 leaves room for the tanh/sigmoid curvature.</summary>
    public const double GradientCheckRelative = 1e-5;

    /// <summary>Float SIMD GEMM vs the scalar definition: FMA and k-blocking change rounding; the error of a
    /// k-term float dot product is bounded by ~k * 2^-24 * sum|a||b|. Scaled by that sum in the test.</summary>
    public const double GemmRelativeToMagnitude = 1e-6;

    /// <summary>Added to the GEMM bound so that k = 0 (an exact copy or zero, magnitude 0 or 1) still compares
    /// floats, not bits: a few ulp of the largest value an accumulated C holds (|c| &lt;= 1 here). CharModelPackingTests
    /// adds it to the same bound for the model's products (|x| &lt;= 1, |w| &lt; 1), where k &gt;= 11.</summary>
    public const double GemmAbsoluteFloor = 1e-7;

    /// <summary>The polynomial exp is accurate to ~2 ulp relative (2.4e-7); allow 4 ulp.</summary>
    public const float ExpRelative = 4.8e-7f;

    /// <summary>A float softmax row against the definition in double, per entry relative to the entry: the scaled
    /// difference (z - max) * (1/tau) rounds twice in float, up to ~2e-6 absolute in the exponent for the spans
    /// tested (|z - max| up to 40, 1/tau 1.7), so as much relative in the entry; exp adds its 4 ulp (ExpRelative),
    /// the normalising sum a few ulp on average over up to 4099 terms. 1e-5 holds them, however small the entry,
    /// and still fails an exp off by 1e-5 anywhere.</summary>
    public const float SoftmaxRelative = 1e-5f;

    /// <summary>The rational tanh evaluated in float: 3.1e-7 absolute at worst with FMA, ~3.4e-7 without (about
    /// 5-6 ulp of 1, near saturation, measured over [-20, 20]); sigmoid, half of tanh, about half that. Allow
    /// 4e-7. The cell tests allow four of these, scaled by the output's size: their outputs combine several.</summary>
    public const float ActivationAbsolute = 4e-7f;

    /// <summary>A float engine against PyTorch computing in double: logits and loss to ~1e-6 relative;
    /// gradients, which sum T*B products of such values, to 1e-4 relative to the tensor's largest entry.</summary>
    public const double FixtureLogits = 2e-5;
    public const double FixtureGradient = 1e-4;

    /// <summary>Six Adam steps in float vs double: Adam divides by sqrt(v), amplifying tiny gradient
    /// differences on near-zero entries; 2e-4 absolute on parameters of size ~0.5 is still far below the
    /// 1e-3 effect clipping has on them (the fixture script checks that).</summary>
    public const double FixtureTrajectoryParameters = 2e-4;
    public const double FixtureTrajectoryLoss = 1e-5;

    /// <summary>An int8 product against the float definition, beyond the quantization bound itself (each weight
    /// within half its column's step, each input within half an activation step, summed over k): the float
    /// steps around the exact integer sum (one conversion, one multiply, one add) and the bound's own float
    /// arithmetic, each a few 2^-24 relative to sum |x||w|.</summary>
    public const double Int8BeyondQuantizationRelative = 1e-6;

    /// <summary>A backward pass split into shares (each scaled by the whole batch's mean, their gradients summed by
    /// row ranges) against one model over the whole batch, per entry relative to the largest gradient: the shares
    /// sum their rows in another order, float rounding of a few ulp of each product sum (measured: under 1e-6 of
    /// the largest in WeightGradientSplitTests, 1e-7 in the trainer's two-thread step).</summary>
    public const double ShareSumRelativeToLargest = 1e-5;

    /// <summary>A pool's wait share when one of two parts works 50 ms and the other nothing is 0.5 less at most
    /// the idle part's own time in its empty job (microseconds; a preemption of a few milliseconds on a busy
    /// test machine): 0.05 below. Delayed hand-offs only raise it.</summary>
    public const double PoolWaitShare = 0.05;
}
