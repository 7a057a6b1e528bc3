import Testing
import AviaryProtocol
@testable import AviaryServer

/// The server's libzmq message limit must admit a HELLO from one process hosting every client:
/// above it libzmq drops the frame without a word, and the process never registers.
@Suite struct MessageLimitTests {
    @Test(arguments: [10, 100_000, 1_000_000])
    func aHelloClaimingEveryClientFits(clients: Int) {
        let claims = (0..<clients).map { ClientClaim(index: $0, token: UInt64.max) }
        let hello = Message.hello(HelloMessage(processName: "proc-0-with-a-long-name", claims: claims))
        let limit = FederatedServer.maxMessageBytes(parameters: 4_554, clients: clients)
        #expect(WireCodec.encodedSize(hello) <= limit, "\(clients) claims")
        // The model's MODEL frame and 1 MiB of headroom stay in it.
        #expect(limit >= 4_554 * 4 + (1 << 20))
    }
}
