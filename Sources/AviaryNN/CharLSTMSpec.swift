/// LEAF's character-level model for Shakespeare (Caldas et al. 2018, after McMahan et al. 2017):
/// each sample is `context` token indices; an 8-dimensional embedding, a stack of LSTM layers,
/// and a Dense layer from the last step's hidden state to the next character's class.
public struct CharLSTMSpec: Codable, Sendable, Hashable {
    /// Token indices are 0..<vocabulary (LEAF's Shakespeare: 80 characters).
    public var vocabulary: Int
    /// Tokens per sample (LEAF: 80).
    public var context: Int
    public var embedding: Int
    public var hidden: Int
    public var layers: Int
    public var classes: Int

    public init(vocabulary: Int, context: Int, embedding: Int = 8, hidden: Int = 256, layers: Int = 2, classes: Int) {
        self.vocabulary = vocabulary; self.context = context; self.embedding = embedding
        self.hidden = hidden; self.layers = layers; self.classes = classes
    }
}
