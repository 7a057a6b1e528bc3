import CZmq
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one libzmq socket handle and turns its return codes into `ZmqError`; the only place
/// that calls libzmq's socket functions.
///
/// libzmq sockets are NOT thread-safe: use a socket from one thread at a time. Handing it to
/// another thread is allowed (libzmq permits migration across a full memory barrier, which
/// starting a `Thread` or any lock hand-off provides). That is why `@unchecked Sendable` is
/// sound here, and a cheap atomic guard traps if two threads ever use it concurrently.
final class ZmqSocket: @unchecked Sendable {
    private var handle: UnsafeMutableRawPointer?
    /// Reused for every frame; heap-allocated because libzmq forbids moving an initialised zmq_msg_t.
    private let frame = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
    private let inUse = Atomic<Bool>(false)
    /// Kept so the context outlives its sockets.
    private let context: ZmqContext
    /// ZMQ_SNDTIMEO in ms, remembered for the timeout error message.
    private(set) var sendTimeoutMilliseconds = -1

    init(context: ZmqContext, type: Int32) throws(ZmqError) {
        guard let h = zmq_socket(context.handle, type) else { throw ZmqError.last("zmq_socket") }
        self.context = context
        handle = h
    }

    deinit {
        close()
        frame.deallocate()
    }

    /// Runs `body` with the live handle, trapping on concurrent use from two threads.
    private func withHandle<T>(_ call: String, _ body: (UnsafeMutableRawPointer) throws(ZmqError) -> T) throws(ZmqError) -> T {
        guard inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            fatalError("ZmqSocket used from two threads at once (\(call)); each socket belongs to one thread")
        }
        defer { inUse.store(false, ordering: .releasing) }
        guard let h = handle else { throw .socketClosed(call: call) }
        return try body(h)
    }

    /// Retries `op` while it fails with EINTR; any other failure becomes a `ZmqError`.
    private func retrying(_ call: String, _ op: () -> Int32) throws(ZmqError) -> Int32 {
        while true {
            let rc = op()
            if rc >= 0 { return rc }
            if zmq_errno() != EINTR { throw ZmqError.last(call) }
        }
    }

    func setOption(_ option: Int32, _ value: Int32, name: String) throws(ZmqError) {
        try withHandle("zmq_setsockopt(\(name))") { (h) throws(ZmqError) in
            var v = value
            _ = try retrying("zmq_setsockopt(\(name))") { zmq_setsockopt(h, option, &v, MemoryLayout<Int32>.size) }
        }
        if option == ZMQ_SNDTIMEO { sendTimeoutMilliseconds = Int(value) }
    }

    func setOption(_ option: Int32, _ value: Int64, name: String) throws(ZmqError) {
        try withHandle("zmq_setsockopt(\(name))") { (h) throws(ZmqError) in
            var v = value
            _ = try retrying("zmq_setsockopt(\(name))") { zmq_setsockopt(h, option, &v, MemoryLayout<Int64>.size) }
        }
    }

    func setOption(_ option: Int32, _ bytes: [UInt8], name: String) throws(ZmqError) {
        try withHandle("zmq_setsockopt(\(name))") { (h) throws(ZmqError) in
            _ = try retrying("zmq_setsockopt(\(name))") {
                bytes.withUnsafeBytes { zmq_setsockopt(h, option, $0.baseAddress, $0.count) }
            }
        }
    }

    func bind(_ endpoint: String) throws(ZmqError) {
        try withHandle("zmq_bind(\(endpoint))") { (h) throws(ZmqError) in
            _ = try retrying("zmq_bind(\(endpoint))") { zmq_bind(h, endpoint) }
        }
    }

    func connect(_ endpoint: String) throws(ZmqError) {
        try withHandle("zmq_connect(\(endpoint))") { (h) throws(ZmqError) in
            _ = try retrying("zmq_connect(\(endpoint))") { zmq_connect(h, endpoint) }
        }
    }

    /// ZMQ_LAST_ENDPOINT: the address actually bound (resolves port 0 and wildcards).
    func lastEndpoint() throws(ZmqError) -> String {
        try withHandle("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") { (h) throws(ZmqError) in
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            _ = try retrying("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") {
                zmq_getsockopt(h, ZMQ_LAST_ENDPOINT, &buffer, &size)
            }
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Waits until a frame is readable or `timeout` passes; true when readable. EINTR resumes
    /// the wait with the time that is left.
    func waitReadable(timeout: Duration) throws(ZmqError) -> Bool {
        try withHandle("zmq_poll") { (h) throws(ZmqError) in
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            while true {
                let left = max(deadline - clock.now, .zero)
                var item = zmq_pollitem_t(socket: h, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
                let rc = zmq_poll(&item, 1, left.roundedUpMilliseconds)
                if rc > 0 { return true }
                if rc == 0 { return false }
                if zmq_errno() != EINTR { throw ZmqError.last("zmq_poll") }
            }
        }
    }

    /// Receives one frame without blocking and lends its bytes to `body` (no copy).
    /// Returns nil when nothing is queued (EAGAIN).
    func receiveFrame<T>(_ body: (UnsafeRawBufferPointer, _ more: Bool) -> T) throws(ZmqError) -> T? {
        try receiveFrameWithUserId { bytes, more, _ in body(bytes, more) }
    }

    /// As `receiveFrame`, also lending the frame's ZAP "User-Id" property (set by the server's
    /// ZAP handler for CURVE connections; nil without one).
    func receiveFrameWithUserId<T>(_ body: (UnsafeRawBufferPointer, _ more: Bool, _ userId: String?) -> T) throws(ZmqError) -> T? {
        try withHandle("zmq_msg_recv") { (h) throws(ZmqError) -> T? in
            zmq_msg_init(frame)
            defer { zmq_msg_close(frame) }
            while zmq_msg_recv(frame, h, ZMQ_DONTWAIT) < 0 {
                let code = zmq_errno()
                if code == EAGAIN { return nil }
                if code != EINTR { throw ZmqError.last("zmq_msg_recv") }
            }
            let bytes = UnsafeRawBufferPointer(start: zmq_msg_data(frame), count: zmq_msg_size(frame))
            // zmq_msg_gets fails (EINVAL) on frames without that property: plaintext peers.
            let userId = zmq_msg_gets(frame, "User-Id").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            return body(bytes, zmq_msg_more(frame) != 0, userId)
        }
    }

    /// Waits until this socket or `other` has a frame, or `timeout` passes. Both sockets must
    /// belong to the calling thread.
    func waitReadable(alsoWatching other: ZmqSocket, timeout: Duration) throws(ZmqError) -> (mine: Bool, other: Bool) {
        try withHandle("zmq_poll") { (h) throws(ZmqError) in
            try other.withHandle("zmq_poll") { (o) throws(ZmqError) in
                let clock = ContinuousClock()
                let deadline = clock.now + timeout
                while true {
                    let left = max(deadline - clock.now, .zero)
                    var items = [zmq_pollitem_t(socket: h, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
                                 zmq_pollitem_t(socket: o, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)]
                    let rc = zmq_poll(&items, 2, left.roundedUpMilliseconds)
                    if rc > 0 { return (items[0].revents & Int16(ZMQ_POLLIN) != 0, items[1].revents & Int16(ZMQ_POLLIN) != 0) }
                    if rc == 0 { return (false, false) }
                    if zmq_errno() != EINTR { throw ZmqError.last("zmq_poll") }
                }
            }
        }
    }

    /// Publishes this socket's `events` (ZMQ_EVENT_*) on the inproc PAIR endpoint `address`.
    func monitor(_ address: String, events: Int32) throws(ZmqError) {
        try withHandle("zmq_socket_monitor") { (h) throws(ZmqError) in
            _ = try retrying("zmq_socket_monitor") { zmq_socket_monitor(h, address, events) }
        }
    }

    /// Sends one frame of `size` bytes that `fill` writes in place (libzmq allocates it once,
    /// so a big UPDATE is encoded straight into the message it sends). With `dontWait`, a full
    /// queue fails at once with `.queueFull` instead of waiting up to ZMQ_SNDTIMEO.
    func sendFrame(size: Int, more: Bool, dontWait: Bool = false, _ fill: (UnsafeMutableRawBufferPointer) -> Void) throws(ZmqError) {
        try withHandle("zmq_msg_send") { (h) throws(ZmqError) in
            guard zmq_msg_init_size(frame, size) == 0 else { throw ZmqError.last("zmq_msg_init_size") }
            fill(UnsafeMutableRawBufferPointer(start: zmq_msg_data(frame), count: size))
            try sendInitialised(h, more: more, dontWait: dontWait)
        }
    }

    /// Sends `message`'s bytes without copying: libzmq holds a retain on it until the frame has
    /// left (released from libzmq's I/O thread through the free function's hint pointer).
    func send(sharing message: EncodedMessage, more: Bool, dontWait: Bool = false) throws(ZmqError) {
        try withHandle("zmq_msg_send") { (h) throws(ZmqError) in
            let hint = Unmanaged.passRetained(message).toOpaque()
            let rc = zmq_msg_init_data(frame, message.bytes.baseAddress, message.bytes.count, { _, hint in
                if let hint { Unmanaged<EncodedMessage>.fromOpaque(hint).release() }
            }, hint)
            guard rc == 0 else {
                Unmanaged<EncodedMessage>.fromOpaque(hint).release()
                throw ZmqError.last("zmq_msg_init_data")
            }
            try sendInitialised(h, more: more, dontWait: dontWait)
        }
    }

    /// Sends the initialised `frame`, retrying EINTR; closes it on failure (libzmq only takes
    /// ownership on success).
    private func sendInitialised(_ h: UnsafeMutableRawPointer, more: Bool, dontWait: Bool) throws(ZmqError) {
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        while zmq_msg_send(frame, h, flags) < 0 {
            let code = zmq_errno()
            if code == EINTR { continue }
            zmq_msg_close(frame)
            if code == EAGAIN && dontWait { throw .queueFull(call: "zmq_msg_send") }
            if code == EAGAIN { throw .sendTimedOut(call: "zmq_msg_send", milliseconds: sendTimeoutMilliseconds) }
            throw ZmqError.last("zmq_msg_send")
        }
    }

    /// Sends a small frame by copying `bytes`.
    func send(_ bytes: [UInt8], more: Bool, dontWait: Bool = false) throws(ZmqError) {
        try sendFrame(size: bytes.count, more: more, dontWait: dontWait) { dst in
            bytes.withUnsafeBytes { src in if let s = src.baseAddress, !src.isEmpty { dst.baseAddress!.copyMemory(from: s, byteCount: src.count) } }
        }
    }

    /// Closes the handle (idempotent); pending outgoing frames get ZMQ_LINGER to leave.
    func close() {
        guard inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            fatalError("ZmqSocket closed while another thread uses it; close it from its owning thread")
        }
        defer { inUse.store(false, ordering: .releasing) }
        guard let h = handle else { return }
        handle = nil
        zmq_close(h)
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so a 0.5 ms timeout still waits; for zmq_poll.
    var roundedUpMilliseconds: Int {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let perMs: Int64 = 1_000_000_000_000_000
        let ms = seconds.multipliedReportingOverflow(by: 1000)
        if ms.overflow { return Int.max }
        return Int(ms.partialValue + (attoseconds + perMs - 1) / perMs)
    }
}
