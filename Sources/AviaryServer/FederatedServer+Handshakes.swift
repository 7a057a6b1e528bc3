import AviaryLog
import AviaryTransport

extension FederatedServer {
    /// Seconds between two warnings about clients of another security mechanism: a client
    /// retries its handshake every few hundred milliseconds, and one line per try would bury the log.
    static let securityMismatchWarningInterval = 10.0

    /// A process as log lines name it: its HELLO name and routing id (`proc-3 (0x0080000029)`).
    func processName(_ peer: PeerID) -> String {
        processNames[peer].map { "\($0) (\(peer))" } ?? "\(peer)"
    }

    /// Handshakes libzmq dropped because the client spoke another mechanism (a plaintext client
    /// at a CURVE server, or the reverse). libzmq tells the client nothing it could show, so the
    /// server says it: on stderr and in the log, at most every `securityMismatchWarningInterval`.
    func noteSecurityMismatches(_ count: Int) throws {
        let why = options.security.isCurve
            ? "a plaintext client tried to connect; this server requires CURVE (give aviary-client --curve-secret and --server-public)"
            : "a CURVE client tried to connect; this server is plaintext (start it with --curve-secret and --allow, or drop the client's keys)"
        issues.count(source: transport.boundEndpoint, "security mechanism mismatch", times: count, example: why)
        guard now - lastSecurityMismatchWarning >= Self.securityMismatchWarningInterval else { return }
        lastSecurityMismatchWarning = now
        try writer.append(.note(NoteRecord(event: "security_mismatch", time: timestamp(), message: why, values: ["attempts": Double(count)])))
        logger.warning("handshake refused: security mismatch", metadata: ["attempts": "\(count)", "why": "\(why)"])
    }
}
