import AviaryLog
import AviaryNN

/// `[model] kind = "external"`'s `parameters` file (safetensors): the model's tensors and initial
/// values. The rules (docs/TOPOLOGY.md, "External models"):
/// - float tensors (F32, F16, BF16, F64) are federated: they form the flat f32 vector, in
///   ascending order of their names (UTF-8 byte order), whatever order the file stores them in,
///   so two writers of the same tensors give the same vector; F16/BF16/F64 values are converted
///   to f32 (F64 rounds to nearest), and the tensor table keeps the dtype so clients cast back;
/// - integer and boolean tensors (BatchNorm's `num_batches_tracked`) are not federated: they are
///   not in the vector and each client keeps its own;
/// - 8-bit floats (F8_E5M2, F8_E4M3) are refused, as is a file with no float tensor, a
///   non-finite initial value, or a file that is not safetensors; every refusal names the file.
public struct ExternalModelFile: Sendable {
    public static let floatDTypes: Set<String> = ["F32", "F16", "BF16", "F64"]

    public let model: ExternalModel
    /// The initial global model: the float tensors' values in vector order, as f32.
    public let initial: [Float]
    /// Tensors left out of the vector (not federated), with their dtype.
    public let notFederated: [(name: String, dtype: String)]

    /// Reads and checks `path`; `key` names the topology key in errors ("model.parameters").
    public static func load(path: String, topology file: String, key: String = "model.parameters") throws(TopologyError) -> ExternalModelFile {
        func refuse(_ why: String) -> TopologyError {
            .invalidValue(file: file, key: key, value: "\"\(path)\"", expected: why)
        }
        let contents: SafetensorsFile
        do { contents = try Safetensors.read(path: path) } catch {
            throw refuse("a safetensors file of the model's tensors (python -m aviary_client init-model writes one): \(error)")
        }
        if let f8 = contents.tensors.first(where: { $0.dtype.hasPrefix("F8") }) {
            throw refuse("tensors of dtype F32, F16, BF16 or F64 (integer ones are kept out of the federation), but '\(f8.name)' is \(f8.dtype)")
        }
        let floats = contents.tensors.filter { floatDTypes.contains($0.dtype) }
            .sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        guard !floats.isEmpty else {
            throw refuse("a file with at least one float tensor (F32, F16, BF16, F64) to federate; \(path) holds \(contents.tensors.isEmpty ? "no tensor" : "only " + contents.tensors.map { "\($0.name) (\($0.dtype))" }.joined(separator: ", "))")
        }
        var tensors: [TensorInfo] = []
        var offset = 0
        for t in floats {
            tensors.append(TensorInfo(name: t.name, shape: t.shape, offset: offset))
            offset += t.elementCount
        }
        let initial: [Float]
        do { initial = try contents.flatValues(order: floats.map(\.name)) } catch { throw refuse("\(error)") }
        if let bad = initial.firstIndex(where: { !$0.isFinite }) {
            let t = tensors.last { $0.offset <= bad }!
            throw refuse("finite initial values, but '\(t.name)' holds \(initial[bad]) at element \(bad - t.offset)")
        }
        let others = contents.tensors.filter { !floatDTypes.contains($0.dtype) }.map { (name: $0.name, dtype: $0.dtype) }
        return ExternalModelFile(model: ExternalModel(layout: ParameterLayout(tensors: tensors), dtypes: floats.map(\.dtype), source: path),
                                 initial: initial, notFederated: others)
    }
}
