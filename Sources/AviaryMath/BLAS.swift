import COpenBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The only Swift entry to OpenBLAS. Row-major throughout: a matrix `m × n` is stored with
/// leading dimension `n` unless a caller passes another.
public enum BLAS {
    /// Sets OpenBLAS's thread count for this process. When several client processes share a
    /// machine, 1 per process is fastest (see docs/ARCHITECTURE.md, "Threads").
    public static func setThreads(_ n: Int) {
        _ = kernelChoice
        openblas_set_num_threads(Int32(max(1, n)))
    }
    public static var threads: Int { _ = kernelChoice; return Int(openblas_get_num_threads()) }

    /// What this process did about OpenBLAS's kernel set, once, before its first BLAS call: nil when
    /// it kept OpenBLAS's own choice, else e.g. "SkylakeX (OpenBLAS fell back to Prescott on this CPU)".
    /// OpenBLAS 0.3.21 (Debian 12) does not know newer CPU models (a Xeon of family 6 model 0xCF) and
    /// falls back to Prescott's SSE3 kernels, which run sgemm 2–4× slower there than its AVX-512 ones.
    /// When OPENBLAS_CORETYPE is unset (or empty) and OpenBLAS says Prescott on a CPU that can run
    /// AVX-512 (AVX2 + FMA), the engine loads SkylakeX (Haswell) instead, as the variable would have.
    /// A pin in OPENBLAS_CORETYPE is never overridden; `coreType` always reports the set in use.
    public static var kernelChoice: String? { kernelSelection }

    @usableFromInline
    static let kernelSelection: String? = {
        let pinned = getenv(coreTypeVariable).map { String(cString: $0) } ?? ""
        guard pinned.isEmpty, String(cString: openblas_get_corename()) == "Prescott" else { return nil }
        let wanted: String
        switch aviary_x86_vector_level() {
        case 2: wanted = "SkylakeX"
        case 1: wanted = "Haswell"
        default: return nil
        }
        guard aviary_openblas_select_core(wanted) != 0 else { return nil }
        let now = String(cString: openblas_get_corename())
        return now == "Prescott" ? nil : "\(now) (OpenBLAS fell back to Prescott on this CPU)"
    }()

    /// The library's build line, e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64".
    public static var configuration: String { String(cString: openblas_get_config()) }
    /// The kernel set OpenBLAS chose for this CPU (or was told to use by OPENBLAS_CORETYPE),
    /// e.g. "Zen", "Haswell", "Cooperlake". Different kernels sum in different orders, so the
    /// same run can differ in the last bits between machines that pick different ones.
    public static var coreType: String { _ = kernelChoice; return String(cString: openblas_get_corename()) }
    /// The variable that pins OpenBLAS's kernel set when read at process start (DYNAMIC_ARCH builds).
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"

    /// C = alpha · op(A) · op(B) + beta · C, row-major.
    @inlinable
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = kernelSelection
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// y += alpha · x
    @inlinable
    public static func saxpy(_ n: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        _ = kernelSelection
        cblas_saxpy(blasint(n), alpha, x, 1, y, 1)
    }

    /// x · y
    @inlinable
    public static func sdot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        _ = kernelSelection
        return cblas_sdot(blasint(n), x, 1, y, 1)
    }

    /// ‖x‖₂
    @inlinable
    public static func snrm2(_ n: Int, _ x: UnsafePointer<Float>) -> Float {
        _ = kernelSelection
        return cblas_snrm2(blasint(n), x, 1)
    }

    /// x *= alpha
    @inlinable
    public static func sscal(_ n: Int, alpha: Float, x: UnsafeMutablePointer<Float>) {
        _ = kernelSelection
        cblas_sscal(blasint(n), alpha, x, 1)
    }
}
