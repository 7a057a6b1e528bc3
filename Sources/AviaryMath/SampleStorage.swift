/// Read-only sample rows shared by every view of a dataset: `rows × width` values stored as
/// Float32 or as UInt8 × scale (images straight from a memory-mapped cache), plus one label per
/// row. Views (`SampleView`) select rows by index; nothing is copied until a batch is gathered.
///
/// Lives in AviaryMath because both the data layer (which builds it) and the engine (which
/// gathers batches from it) use it, and neither depends on the other.
public final class SampleStorage: @unchecked Sendable {
    /// How a row's values are stored.
    public enum Element: Sendable, Equatable {
        case float32
        /// Value = Float(byte) × scale, the arithmetic the IDX/NPY loaders used to decode with.
        case uint8(scale: Float)
    }

    public let element: Element
    public let rows: Int
    public let width: Int
    /// One label per row.
    public let labels: UnsafePointer<Int32>
    /// Natural owner (writer, device) of each row, when the source has one.
    public let owners: [Int32]?
    private let base: UnsafeRawPointer
    /// Memory this storage allocated itself (freed in deinit); nil for borrowed memory.
    private let ownedBase: UnsafeMutableRawPointer?
    private let ownedLabels: UnsafeMutablePointer<Int32>
    /// Keeps borrowed memory (e.g. a file mapping) alive as long as the storage.
    private let keepAlive: AnyObject?

    /// Float32 rows, copied once into storage this object owns.
    public convenience init(features: [Float], labels: [Int32], width: Int, owners: [Int32]? = nil) {
        precondition(width >= 0 && features.count == labels.count * width,
                     "SampleStorage: \(features.count) values for \(labels.count) rows of \(width)")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, features.count) * 4, alignment: 64)
        features.withUnsafeBytes { raw.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(raw), byteCount: $0.count) }
        self.init(element: .float32, base: UnsafeRawPointer(raw), owned: raw, labels: labels, width: width,
                  owners: owners, keepAlive: nil)
    }

    /// UInt8 rows (value = Float(byte) × scale), copied once into storage this object owns.
    public convenience init(bytes: [UInt8], scale: Float, labels: [Int32], width: Int, owners: [Int32]? = nil) {
        precondition(width >= 0 && bytes.count == labels.count * width,
                     "SampleStorage: \(bytes.count) bytes for \(labels.count) rows of \(width)")
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
        bytes.withUnsafeBytes { raw.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(raw), byteCount: $0.count) }
        self.init(element: .uint8(scale: scale), base: UnsafeRawPointer(raw), owned: raw, labels: labels, width: width,
                  owners: owners, keepAlive: nil)
    }

    /// Rows in memory someone else owns (`keepAlive` must keep `base` valid), e.g. a mapped cache file.
    public convenience init(element: Element, base: UnsafeRawPointer, labels: [Int32], width: Int,
                            owners: [Int32]? = nil, keepAlive: AnyObject) {
        self.init(element: element, base: base, owned: nil, labels: labels, width: width, owners: owners,
                  keepAlive: keepAlive)
    }

    private init(element: Element, base: UnsafeRawPointer, owned: UnsafeMutableRawPointer?, labels: [Int32],
                 width: Int, owners: [Int32]?, keepAlive: AnyObject?) {
        precondition(owners == nil || owners!.count == labels.count, "one owner per row")
        self.element = element
        self.base = base
        self.ownedBase = owned
        self.rows = labels.count
        self.width = width
        self.owners = owners
        self.keepAlive = keepAlive
        let copy = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, labels.count))
        labels.withUnsafeBufferPointer { if let b = $0.baseAddress { copy.initialize(from: b, count: $0.count) } }
        ownedLabels = copy
        self.labels = UnsafePointer(copy)
    }

    deinit {
        ownedBase?.deallocate()
        ownedLabels.deallocate()
    }

    /// Bytes of row data (not counting labels).
    public var payloadBytes: Int { rows * width * (element == .float32 ? 4 : 1) }

    /// Writes row `row`'s values as Float32 to `out` (`width` values).
    @inlinable
    public func copyRow(_ row: Int, to out: UnsafeMutablePointer<Float>) {
        switch element {
        case .float32:
            out.update(from: floatRows + row * width, count: width)
        case .uint8(let scale):
            let src = byteRows + row * width
            for j in 0..<width { out[j] = Float(src[j]) * scale }
        }
    }

    /// Float32 rows; only valid when `element == .float32`.
    public var floatRows: UnsafePointer<Float> { base.assumingMemoryBound(to: Float.self) }
    /// Byte rows; only valid when `element` is `.uint8`.
    public var byteRows: UnsafePointer<UInt8> { base.assumingMemoryBound(to: UInt8.self) }
}
