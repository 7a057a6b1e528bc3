extension NPYLoader {
    /// A one-dimensional integer array (any little-endian width) whose values lie in
    /// 0..<`upperBound`, e.g. sample indices into a dataset of that size.
    public static func loadIntegers(path: String, upperBound: Int) throws -> [Int] {
        let a = try parse(SourceFile.bytes(path), path: path)
        guard a.shape.count == 1 else {
            throw DatasetError.shapeMismatch(path: path, problem: "the array has shape \(a.shape); expected one dimension (n,)")
        }
        return try integers(a, path: path, classes: upperBound).map(Int.init)
    }
}
