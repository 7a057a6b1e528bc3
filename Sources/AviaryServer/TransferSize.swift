import AviaryProtocol

/// Bytes a client downloads (the global model) and uploads (its delta) per round, for the
/// simulated clock. The one place transfer sizes come from.
public enum TransferSize {
    /// Frame and message header overhead assumed per transfer.
    public static let headerBytes = 64

    /// The MODEL message: the global vector as Float32 (the model always travels uncompressed).
    public static func downloadBytes(parameterCount: Int) -> Int { 4 * parameterCount + headerBytes }

    /// One UPDATE in the run's `[compression]` encoding: its encoded delta field plus the header.
    /// Every encoding has a size fixed by the layout (top-k sends exactly k entries), so it is the
    /// same for every client.
    public static func uploadBytes(encoding: DeltaEncoding, tensorSizes: [Int]) -> Int {
        encoding.encodedSize(tensorSizes: tensorSizes) + headerBytes
    }
}
