import Foundation
import AviaryTopology
import AviaryTransport

/// Turning `[security]` and the CURVE flags into the transport's settings, and the start-up
/// warning for an exposed plaintext server.
enum CurveOptions {
    /// The server's security: the flags win over `[security]`; CURVE is on when either asks.
    static func server(topology: Topology, curveSecret: String?, allow: String?) throws -> ServerSecurity {
        let sec = topology.security
        guard curveSecret != nil || sec.curve else { return .plaintext }
        guard let secretPath = curveSecret ?? sec.serverSecret, let allowPath = allow ?? sec.allowList else {
            throw CurveSetupError.serverKeysMissing
        }
        return .curve(server: try CurveKeyFile.readSecret(secretPath), allowList: try CurveKeyFile.readAllowList(allowPath))
    }

    /// The warning for a server that binds beyond this machine without CURVE, or nil.
    static func plaintextWarning(bind: String, security: ServerSecurity) -> String? {
        guard !security.isCurve, bind.hasPrefix("tcp://") else { return nil }
        var host = String(bind.dropFirst("tcp://".count))
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if host == "localhost" || host == "::1" || host.hasPrefix("127.") { return nil }
        return "plaintext: anyone who can reach \(bind) can join this run and read the model updates; enable CURVE: "
            + "aviary keygen --dir keys --processes N --clients C, then aviary-server --curve-secret keys/server.secret "
            + "--allow keys/allowed.txt and aviary-client --curve-secret keys/client-I.secret --server-public keys/server.public "
            + "(or [security] curve = true under aviary run)"
    }
}

enum CurveSetupError: Error, CustomStringConvertible {
    case serverKeysMissing

    var description: String {
        switch self {
        case .serverKeysMissing:
            "security.curve = true needs the server's keys: pass --curve-secret FILE --allow FILE, or set "
                + "security.server_secret and security.allow_list (aviary keygen --dir keys --processes N --clients C writes both)"
        }
    }
}
