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
