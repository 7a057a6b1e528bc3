/// Bytes a client downloads (the global model) and uploads (its delta) per round, for the
/// simulated clock. The one place transfer sizes come from: an encoding other than full
/// Float32 (f16, int8, top-k) plugs in here as its encoded size.
public enum TransferSize {
    /// Frame and message header overhead assumed per transfer.
    public static let headerBytes = 64

    /// The MODEL message: the global vector as Float32.
    public static func downloadBytes(parameterCount: Int) -> Int { 4 * parameterCount + headerBytes }

    /// One UPDATE: the delta as Float32 (same for every client until deltas are compressed).
    public static func uploadBytes(parameterCount: Int, client: Int) -> Int { 4 * parameterCount + headerBytes }
}
