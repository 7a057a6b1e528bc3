import AviaryProtocol
import AviaryTransport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What a server's socket monitor reports when a client speaks another security mechanism
/// (issue 27), on real sockets. Each side of a ZMTP 3 greeting sends its mechanism once it has
/// the other's version byte, so which side learns of the mismatch first is a race: the server
/// sees the client's NULL greeting (a certain mismatch) only when it arrives before the client,
/// having read the server's CURVE greeting, closes. Under load the client usually wins, and the
/// server sees a connection closed mid-handshake. Both are counted; the two raw-socket peers
/// below force each outcome, so neither depends on the race.
@Suite(.serialized, .enabled(if: CurveKeyPair.isAvailable, "this libzmq has no CURVE (built without libsodium)"))
struct MechanismMismatchTests {
    /// ZMTP 3.1's greeting (RFC 23): signature, version 3.1, mechanism (20 bytes), as-server, filler.
    static let signature: [UInt8] = [0xFF] + Array(repeating: 0, count: 8) + [0x7F]
    static let nullGreeting: [UInt8] = signature + [3, 1] + Array("NULL".utf8) + Array(repeating: 0, count: 16)
        + [0] + Array(repeating: 0, count: 31)

    static func curveServer() throws -> ServerEndpoint {
        let keys = try CurveKeyPair.generate()
        return try ServerEndpoint(bind: "tcp://127.0.0.1:0", maxMessageBytes: 1 << 20,
                                  security: .curve(server: keys, allowList: AllowList(bindings: [:])))
    }

    /// A plain TCP connection to the endpoint's port, with a 10 s receive timeout.
    static func rawConnection(to endpoint: String) throws -> Int32 {
        let port = try #require(UInt16(endpoint.split(separator: ":").last ?? ""))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(rc == 0, "connect: errno \(errno)")
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }

    /// The first `count` bytes the server sends (fewer if it closes or 10 s pass).
    static func read(_ fd: Int32, count: Int) -> [UInt8] {
        var got: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        while got.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - got.count, 0) }
            if n <= 0 { break }
            got += buffer[0..<n]
        }
        return got
    }

    /// Polls the server (as its loop does) until `enough` holds of what its monitor reported, or 20 s pass.
    static func failures(of server: ServerEndpoint, until enough: (HandshakeFailures) -> Bool) -> HandshakeFailures {
        var total = HandshakeFailures()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let f = server.takeHandshakeFailures()
            total.mismatched += f.mismatched
            total.closedEarly += f.closedEarly
            if enough(total) { break }
            _ = try? server.receive(timeout: .milliseconds(20))
        }
        return total
    }

    @Test func aNullGreetingIsAMismatch() throws {
        let server = try Self.curveServer()
        defer { server.close() }
        let fd = try Self.rawConnection(to: server.boundEndpoint)
        defer { close(fd) }
        Self.send(fd, Self.nullGreeting)  // the whole greeting at once: the server reads NULL
        let seen = Self.failures(of: server) { $0.mismatched > 0 }
        #expect(seen == HandshakeFailures(mismatched: 1, closedEarly: 0))
    }

    /// The race the plaintext client usually wins: it has the server's CURVE greeting and hangs
    /// up before its own mechanism left.
    @Test func aClientThatLeavesBeforeItsMechanismIsCountedAsClosedEarly() throws {
        let server = try Self.curveServer()
        defer { server.close() }
        let fd = try Self.rawConnection(to: server.boundEndpoint)
        Self.send(fd, Self.signature + [3])
        let greeting = Self.read(fd, count: 64)
        close(fd)
        #expect(greeting.count == 64 && Array(greeting[12..<17]) == Array("CURVE".utf8), "\(greeting)")
        let seen = Self.failures(of: server) { $0.closedEarly > 0 }
        #expect(seen == HandshakeFailures(mismatched: 0, closedEarly: 1))
    }

    /// aviary's own plaintext client: it is told CURVE, and the server counts the attempt as
    /// one kind or the other, whichever way the race went.
    @Test func aPlaintextClientIsSeenByTheServer() throws {
        let server = try Self.curveServer()
        defer { server.close() }
        let endpoint = server.boundEndpoint
        let outcome = Shared<String>("")
        let worker = Worker {
            do {
                let client = try ClientEndpoint(connect: endpoint)
                defer { client.close() }
                try client.send(.hello(HelloMessage(processName: "plain", claims: [ClientClaim(index: 0)])))
                for _ in 0..<300 { if try client.receive(timeout: .milliseconds(100)) != nil { outcome.update { $0 = "got a message" }; return } }
                outcome.update { $0 = "never told" }
            } catch let error as ZmqError {
                outcome.update { $0 = "\(error)" }
            } catch { outcome.update { $0 = "unexpected \(error)" } }
        }
        let seen = Self.failures(of: server) { $0.mismatched + $0.closedEarly > 0 && worker.join(seconds: 0) }
        _ = worker.join(seconds: 30)
        #expect(outcome.get == "\(ZmqError.securityMismatch(endpoint: endpoint, clientUsesCurve: false))")
        #expect(seen.mismatched + seen.closedEarly >= 1, "\(seen)")
    }
}
