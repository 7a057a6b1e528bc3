extension Topology {
    /// `[security]`: CURVE encryption and client authentication (docs/PROTOCOL.md, "Security").
    public struct SecuritySettings: Sendable, Hashable {
        /// Encrypt and authenticate every connection with CURVE.
        public var curve: Bool = false
        /// The server's secret key file (from `aviary keygen`); `aviary-server --curve-secret` overrides it.
        public var serverSecret: String?
        /// The allow-list of client public keys; `aviary-server --allow` overrides it.
        public var allowList: String?

        public init(curve: Bool = false, serverSecret: String? = nil, allowList: String? = nil) {
            self.curve = curve; self.serverSecret = serverSecret; self.allowList = allowList
        }
    }
}

extension Topology {
    static func parseSecurity(_ t: TableReader) throws(TopologyError) -> SecuritySettings {
        var s = SecuritySettings(curve: try t.bool("curve", default: false),
                                 serverSecret: try t.string("server_secret"), allowList: try t.string("allow_list"))
        for (key, value) in [("server_secret", s.serverSecret), ("allow_list", s.allowList)] where value?.isEmpty == true {
            throw t.invalid(key, "\"\"", expected: "a file path (from aviary keygen)")
        }
        if !s.curve && (s.serverSecret != nil || s.allowList != nil) {
            t.warn("security.server_secret and security.allow_list are ignored while security.curve = false")
            s.serverSecret = nil; s.allowList = nil
        }
        try t.finish()
        return s
    }
}
