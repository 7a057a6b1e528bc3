/// Why WELCOME refuses a claim. Each case carries its context and knows its `category` (the
/// stable name the server counts per connection, as `IgnoredMessage` and `RejectionReason` do)
/// and whether asking again may succeed; `description` is the sentence the wire carries
/// (protocol version 4 sends only that rendered sentence, so a client decodes `.stated`).
/// No case names a single client index: claims refused for one reason share one entry.
public enum RefusalReason: Sendable, Equatable, CustomStringConvertible {
    /// The server admits only allow-listed CURVE keys and this connection has none.
    case unauthenticated
    /// The connection's CURVE key is not on the allow-list.
    case keyNotAllowed(key: String)
    /// The allow-list binds the key to other client indices than those claimed.
    case keyBoundElsewhere(key: String, binding: AllowList.Binding)
    /// A server-assigned claim found no free slot among the key's bound indices.
    case noFreeBoundSlot(binding: AllowList.Binding)
    /// A server-assigned claim found every one of the topology's `clients` slots taken.
    case allSlotsTaken(clients: Int)
    /// A pinned index outside the topology's `0..<clients`.
    case outsideTopology(clients: Int)
    /// The same index twice in one HELLO.
    case claimedTwice
    /// The slot is held by a live process (`holder` names the first such process) and the
    /// claim did not present its session token. Retrying may succeed once the holder is lost.
    case heldByLiveProcess(holder: String)
    /// An evaluator's HELLO while another evaluator connection is live (protocol 5: one at a
    /// time). Retrying may succeed once that one is gone.
    case evaluatorAlreadyConnected
    /// A reason as a server stated it on the wire: what a client decodes.
    case stated(String)

    /// True when asking again later may succeed: a slot held by a live process, or the evaluator
    /// role, may free up.
    public var retry: Bool {
        switch self {
        case .heldByLiveProcess, .evaluatorAlreadyConnected: true
        default: false
        }
    }

    public var category: String {
        switch self {
        case .unauthenticated: "claim without a CURVE key"
        case .keyNotAllowed: "claim by a key not allow-listed"
        case .keyBoundElsewhere: "claim outside the key's binding"
        case .noFreeBoundSlot: "claim with no free slot in the key's binding"
        case .allSlotsTaken: "claim with all slots taken"
        case .outsideTopology: "claim outside the topology"
        case .claimedTwice: "claim repeated in one HELLO"
        case .heldByLiveProcess: "claim of a held slot"
        case .evaluatorAlreadyConnected: "second evaluator"
        case .stated: "claim refused"
        }
    }

    public var description: String {
        switch self {
        case .unauthenticated:
            "this connection is not authenticated with a CURVE key, and the server only admits allow-listed keys"
        case let .keyNotAllowed(key): "client key \(key.prefix(8))… is not on the server's allow-list"
        case let .keyBoundElsewhere(key, binding):
            "client key \(key.prefix(8))… is bound to clients \(binding.short) by the allow-list, not to these"
        case let .noFreeBoundSlot(binding):
            "no free client slot among clients \(binding.short), which the allow-list binds this key to"
        case let .allSlotsTaken(clients): "all \(clients) client slots are taken"
        case let .outsideTopology(clients): "outside the topology's clients 0..<\(clients)"
        case .claimedTwice: "claimed twice in one HELLO"
        case let .heldByLiveProcess(holder):
            "held by a live process (the first by \(holder)); re-registering needs the session token issued to its holder"
        case .evaluatorAlreadyConnected: "an evaluator is already connected"
        case let .stated(reason): reason
        }
    }
}
