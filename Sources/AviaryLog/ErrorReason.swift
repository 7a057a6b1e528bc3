import Foundation

/// One short reason for a file or process error, for messages that already name the path.
public enum ErrorReason {
    /// The POSIX reason inside a Foundation error ("Permission denied"), not Foundation's whole
    /// dump; other Foundation errors by their localized text; Aviary's own errors as they
    /// describe themselves.
    public static func of(_ error: Error) -> String {
        let ns = error as NSError
        let cause = (ns.userInfo[NSUnderlyingErrorKey] as? NSError) ?? ns
        if cause.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(cause.code))) }
        if ns.domain == NSCocoaErrorDomain { return ns.localizedDescription }
        return "\(error)"
    }
}
