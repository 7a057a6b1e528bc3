#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// libm entry points under explicit names, so RandomStream's arithmetic is spelled the same on
// every platform and no file needs Foundation just for log/exp.
@inline(__always) func libm_log(_ x: Double) -> Double { log(x) }
@inline(__always) func libm_exp(_ x: Double) -> Double { exp(x) }
@inline(__always) func libm_sin(_ x: Double) -> Double { sin(x) }
@inline(__always) func libm_cos(_ x: Double) -> Double { cos(x) }
