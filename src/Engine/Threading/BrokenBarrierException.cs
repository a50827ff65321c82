// What a thread waiting at a SpinBarrier sees when a partner failed and broke the barrier. A consequence, never
// the cause: WorkerPool.Run reports the partner's own exception in its place (the cause is what a user needs).
namespace CharRnn.Engine.Threading;

public sealed class BrokenBarrierException() : InvalidOperationException("a partner thread failed; the barrier is broken");
