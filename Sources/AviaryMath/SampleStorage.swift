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

/// Rows of a `SampleStorage` selected by an index list (nil: all rows in order). A client's
/// partition is such a view: its cost is the index list, never a copy of the samples.
public struct SampleView: Sendable {
    public let storage: SampleStorage
    /// Storage rows of this view, in order (duplicates allowed); nil = `0..<storage.rows`.
    public let indices: [Int32]?

    public init(storage: SampleStorage, indices: [Int32]? = nil) {
        if let indices {
            precondition(indices.allSatisfy { $0 >= 0 && Int($0) < storage.rows },
                         "SampleView: index outside 0..<\(storage.rows)")
        }
        self.storage = storage
        self.indices = indices
    }

    /// A view of the whole of `features` / `labels` (copied once into a fresh storage).
    public init(features: [Float], labels: [Int32], width: Int) {
        self.init(storage: SampleStorage(features: features, labels: labels, width: width))
    }

    public var count: Int { indices?.count ?? storage.rows }
    public var width: Int { storage.width }

    /// The storage row of position `i`.
    @inlinable
    public func row(_ i: Int) -> Int { indices.map { Int($0[i]) } ?? i }

    @inlinable
    public func label(_ i: Int) -> Int32 { storage.labels[row(i)] }

    /// Contiguous Float32 rows when the view is the whole of a Float32 storage (no gather needed).
    public var contiguousFloats: UnsafePointer<Float>? {
        indices == nil && storage.element == .float32 ? storage.floatRows : nil
    }

    /// Gathers positions `order[start..<start + count]` (or `start..<start + count` when `order`
    /// is nil) into `inputs` (count × width, Float32) and their labels into `labels`.
    public func gather(order: UnsafePointer<Int>?, start: Int, count: Int,
                       inputs: UnsafeMutablePointer<Float>, labels out: UnsafeMutablePointer<Int32>) {
        let d = width
        if let indices {
            indices.withUnsafeBufferPointer { idx in
                for i in 0..<count {
                    let r = Int(idx[order.map { $0[start + i] } ?? start + i])
                    storage.copyRow(r, to: inputs + i * d)
                    out[i] = storage.labels[r]
                }
            }
        } else {
            for i in 0..<count {
                let r = order.map { $0[start + i] } ?? start + i
                storage.copyRow(r, to: inputs + i * d)
                out[i] = storage.labels[r]
            }
        }
    }

    /// All values as Float32, row after row (a copy; for small views, tests and transforms).
    public func materialisedFeatures() -> [Float] {
        let d = width, n = count
        guard n > 0, d > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: n * d) { buffer, initialised in
            for i in 0..<n { storage.copyRow(row(i), to: buffer.baseAddress! + i * d) }
            initialised = n * d
        }
    }

    /// All labels, in view order.
    public func materialisedLabels() -> [Int32] { (0..<count).map { label($0) } }

    /// The view of positions `positions` of this view (composes index lists; no sample copy).
    public func selecting(_ positions: [Int]) -> SampleView {
        let n = count
        return SampleView(storage: storage, indices: positions.map { p in
            precondition(p >= 0 && p < n, "subset index \(p) outside 0..<\(n)")
            return Int32(row(p))
        })
    }
}
