import CZmq

/// Socket options both endpoints set, with units in the names. docs/PROTOCOL.md explains why
/// each exists; the defaults suit loopback and LAN runs.
public struct TransportOptions: Sendable, Equatable {
    /// ZMQ_LINGER: how long `close()` may wait to flush queued frames (bounded, so shutdown never hangs).
    public var lingerMilliseconds: Int32
    /// ZMQ_SNDTIMEO: how long a send may block on a peer that stopped reading before it fails.
    public var sendTimeoutMilliseconds: Int32
    /// ZMQ_TCP_KEEPALIVE_IDLE: idle seconds before the kernel probes a silent TCP peer.
    public var tcpKeepaliveIdleSeconds: Int32
    /// ZMQ_TCP_KEEPALIVE_INTVL: seconds between kernel keepalive probes.
    public var tcpKeepaliveIntervalSeconds: Int32
    /// ZMQ_TCP_KEEPALIVE_CNT: unanswered probes before the kernel drops the connection.
    public var tcpKeepaliveProbes: Int32
    /// ZMQ_RECONNECT_IVL_MAX (DEALER): ceiling of libzmq's exponential reconnect back-off.
    public var reconnectIntervalMaxMilliseconds: Int32
    /// ZMQ_SNDHWM (ROUTER): messages queued towards one peer before the server counts it as not
    /// reading and drops it. A reading client has a MODEL, a TRAIN and a few HEARTBEATs queued
    /// at most; this also caps what one silent peer can make the server hold.
    public var peerQueueMessages: Int32

    /// The documented defaults (docs/PROTOCOL.md, section 5); override per field.
    public init(lingerMilliseconds: Int32 = 500, sendTimeoutMilliseconds: Int32 = 10_000,
                tcpKeepaliveIdleSeconds: Int32 = 30, tcpKeepaliveIntervalSeconds: Int32 = 5,
                tcpKeepaliveProbes: Int32 = 3, reconnectIntervalMaxMilliseconds: Int32 = 2_000,
                peerQueueMessages: Int32 = 100) {
        self.lingerMilliseconds = lingerMilliseconds
        self.sendTimeoutMilliseconds = sendTimeoutMilliseconds
        self.tcpKeepaliveIdleSeconds = tcpKeepaliveIdleSeconds
        self.tcpKeepaliveIntervalSeconds = tcpKeepaliveIntervalSeconds
        self.tcpKeepaliveProbes = tcpKeepaliveProbes
        self.reconnectIntervalMaxMilliseconds = reconnectIntervalMaxMilliseconds
        self.peerQueueMessages = peerQueueMessages
    }
}

extension ZmqSocket {
    /// The options ROUTER and DEALER share.
    func applyCommon(_ o: TransportOptions) throws(ZmqError) {
        try setOption(ZMQ_LINGER, o.lingerMilliseconds, name: "ZMQ_LINGER")
        try setOption(ZMQ_SNDTIMEO, o.sendTimeoutMilliseconds, name: "ZMQ_SNDTIMEO")
        try setOption(ZMQ_TCP_KEEPALIVE, Int32(1), name: "ZMQ_TCP_KEEPALIVE")
        try setOption(ZMQ_TCP_KEEPALIVE_IDLE, o.tcpKeepaliveIdleSeconds, name: "ZMQ_TCP_KEEPALIVE_IDLE")
        try setOption(ZMQ_TCP_KEEPALIVE_INTVL, o.tcpKeepaliveIntervalSeconds, name: "ZMQ_TCP_KEEPALIVE_INTVL")
        try setOption(ZMQ_TCP_KEEPALIVE_CNT, o.tcpKeepaliveProbes, name: "ZMQ_TCP_KEEPALIVE_CNT")
    }
}
