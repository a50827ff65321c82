// The symbols a model reads and writes: the distinct Unicode scalar values (runes) of a corpus, sorted by code
// point, so an emoji or a CJK character is one symbol and the same text always yields the same indices.
using System.Text;

namespace CharRnn.Engine.Model;

public sealed class Vocabulary
{
    private readonly Rune[] _symbols;
    private readonly Dictionary<int, int> _indexOf;
    private readonly string[] _text;

    public Vocabulary(IEnumerable<Rune> symbols)
    {
        _symbols = symbols.Distinct().OrderBy(r => r.Value).ToArray();
        if (_symbols.Length == 0) throw new ArgumentException("a vocabulary needs at least one symbol", nameof(symbols));
        _indexOf = new Dictionary<int, int>(_symbols.Length);
        for (int i = 0; i < _symbols.Length; i++) _indexOf[_symbols[i].Value] = i;
        _text = _symbols.Select(r => r.ToString()).ToArray();
    }

    public static Vocabulary FromText(string text) => new(text.EnumerateRunes());

    public int Count => _symbols.Length;
    public Rune this[int index] => _symbols[index];

    /// <summary>The symbol as a string (one or two UTF-16 chars), cached so decoding allocates nothing.</summary>
    public string TextOf(int index) => _text[index];

    public IReadOnlyList<string> Symbols => _text;

    public bool TryIndexOf(Rune symbol, out int index) => _indexOf.TryGetValue(symbol.Value, out index);

    /// <summary>Indices of every rune of text; unknown runes throw InvalidDataException listing them.</summary>
    public int[] Encode(string text)
    {
        var indices = new List<int>(text.Length);
        SortedSet<int>? unknown = null;
        foreach (Rune r in text.EnumerateRunes())
        {
            if (TryIndexOf(r, out int i)) indices.Add(i);
            else (unknown ??= new SortedSet<int>()).Add(r.Value);
        }
        if (unknown != null) throw new InvalidDataException($"characters not in the model's vocabulary: {Describe(unknown)}");
        return indices.ToArray();
    }

    /// <summary>The runes of text missing from this vocabulary, as a readable list, or null when none are.</summary>
    public string? MissingFrom(string text)
    {
        var unknown = new SortedSet<int>(text.EnumerateRunes().Where(r => !_indexOf.ContainsKey(r.Value)).Select(r => r.Value));
        return unknown.Count == 0 ? null : Describe(unknown);
    }

    public static string Describe(IEnumerable<int> codePoints) =>
        string.Join(", ", codePoints.Select(cp => char.IsControl((char)Math.Min(cp, 0xFFFF)) || cp == ' ' ? $"U+{cp:X4}" : $"'{new Rune(cp)}' (U+{cp:X4})"));

    public bool SameAs(Vocabulary other) => _symbols.AsSpan().SequenceEqual(other._symbols);
}
