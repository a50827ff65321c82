// How generation holds its weight matrices. Training always works in float; these are read-only copies made
// when a sampler is built, trading a little accuracy (measure it with `charrnn eval --weights`) for fewer
// bytes streamed per generated character, which is what batch-1 generation is bound by.
namespace CharRnn.Engine.Sampling;

public enum WeightFormat
{
    /// <summary>As trained: 4 bytes per weight.</summary>
    Float32,

    /// <summary>Every weight rounded to bfloat16 (8 significant bits): 2 bytes; exactly the float model with rounded weights.</summary>
    BFloat16,

    /// <summary>
    /// 8-bit integers with one float scale per output unit, and each product's input rounded to 16-bit integers
    /// (Int8Product): 1 byte per weight. Layer 0's input weights stay float: with one-hot inputs they are a row
    /// lookup, read 1/V at a time.
    /// </summary>
    Int8,
}
