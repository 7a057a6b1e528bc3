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
    /// at a CURVE server, or the reverse), or closed before saying which. libzmq tells the
    /// client nothing it could show, so the server says it: on stderr and in the log (the events
    /// `security_mismatch` and `handshake_closed`), each at most every
    /// `securityMismatchWarningInterval`. The client usually leaves before its greeting's
    /// mechanism reaches the server (SocketMonitor.Event.isClosedMidHandshake), so the second
    /// event is the common one; it names the likely cause rather than a certainty.
    func noteHandshakeFailures(_ failures: HandshakeFailures) throws {
        let curve = options.security.isCurve
        let fix = curve ? "give aviary-client --curve-secret and --server-public"
                        : "start the server with --curve-secret and --allow, or drop the client's keys"
        if failures.mismatched > 0 {
            let why = curve ? "a plaintext client tried to connect; this server requires CURVE (\(fix))"
                            : "a CURVE client tried to connect; this server is plaintext (\(fix))"
            try warn(event: "security_mismatch", category: "security mechanism mismatch", count: failures.mismatched, why: why)
        }
        if failures.closedEarly > 0 {
            let why = "a client closed its connection mid-handshake, before sending its security mechanism; "
                + (curve ? "this server requires CURVE, and a plaintext client leaves so when it reads the server's CURVE greeting first"
                         : "this server is plaintext, and a CURVE client leaves so when it reads the server's greeting first")
                + " (\(fix)); a port probe looks the same"
            try warn(event: "handshake_closed", category: "handshake closed before its mechanism", count: failures.closedEarly, why: why)
        }
    }

    private func warn(event: String, category: String, count: Int, why: String) throws {
        issues.count(source: transport.boundEndpoint, category, times: count, example: why)
        guard now - (lastHandshakeWarning[event] ?? -.infinity) >= Self.securityMismatchWarningInterval else { return }
        lastHandshakeWarning[event] = now
        try writer.append(.note(NoteRecord(event: event, time: timestamp(), message: why, values: ["attempts": Double(count)])))
        logger.warning("handshake refused: \(category)", metadata: ["attempts": "\(count)", "why": "\(why)"])
    }
}
