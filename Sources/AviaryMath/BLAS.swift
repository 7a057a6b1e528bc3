import COpenBLAS

/// The only Swift entry to OpenBLAS. Row-major throughout: a matrix `m × n` is stored with
/// leading dimension `n` unless a caller passes another.
public enum BLAS {
    /// Sets OpenBLAS's thread count for this process. When several client processes share a
    /// machine, 1 per process is fastest (see docs/ARCHITECTURE.md, "Threads").
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// The library's build line, e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64".
    public static var configuration: String { String(cString: openblas_get_config()) }
    /// The kernel set OpenBLAS chose for this CPU (or was told to use by OPENBLAS_CORETYPE),
    /// e.g. "Zen", "Haswell", "Cooperlake". Different kernels sum in different orders, so the
    /// same run can differ in the last bits between machines that pick different ones.
    public static var coreType: String { String(cString: openblas_get_corename()) }
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
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// y += alpha · x
    @inlinable
    public static func saxpy(_ n: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        cblas_saxpy(blasint(n), alpha, x, 1, y, 1)
    }

    /// x · y
    @inlinable
    public static func sdot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        cblas_sdot(blasint(n), x, 1, y, 1)
    }

    /// ‖x‖₂
    @inlinable
    public static func snrm2(_ n: Int, _ x: UnsafePointer<Float>) -> Float { cblas_snrm2(blasint(n), x, 1) }

    /// x *= alpha
    @inlinable
    public static func sscal(_ n: Int, alpha: Float, x: UnsafeMutablePointer<Float>) { cblas_sscal(blasint(n), alpha, x, 1) }
}
