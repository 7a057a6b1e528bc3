import Testing
@testable import AviaryMath

/// A pinned OpenBLAS kernel set without AVX-512 also keeps the engine's own kernels off AVX-512,
/// so that machines under one `blas_coretype` pin run the same convolution code (README, Determinism).
@Suite struct VectorKernelLevelTests {
    @Test func withoutAPinTheCPUDecides() {
        for cpu in 0...2 {
            #expect(VectorKernels.pinnedLevel(cpu: cpu, pinnedCoreType: nil) == cpu)
            #expect(VectorKernels.pinnedLevel(cpu: cpu, pinnedCoreType: "") == cpu)
        }
    }

    @Test func aPinWithoutAVX512CapsAnAVX512MachineAtAVX2() {
        for pin in ["Haswell", "HASWELL", "Zen", "Prescott", "Sandybridge"] {
            #expect(VectorKernels.pinnedLevel(cpu: 2, pinnedCoreType: pin) == 1, "\(pin)")
        }
    }

    @Test func anAVX512PinKeepsAVX512() {
        for pin in ["SkylakeX", "SKYLAKEX", "Cooperlake", "SapphireRapids"] {
            #expect(VectorKernels.pinnedLevel(cpu: 2, pinnedCoreType: pin) == 2, "\(pin)")
        }
    }

    @Test func aPinNeverRaisesTheLevel() {
        for cpu in 0...1 {
            #expect(VectorKernels.pinnedLevel(cpu: cpu, pinnedCoreType: "SkylakeX") == cpu)
            #expect(VectorKernels.pinnedLevel(cpu: cpu, pinnedCoreType: "Haswell") == cpu)
        }
    }
}
