/// WELCOME's refused entries on the wire (protocol version 4, docs/PROTOCOL.md section 2):
///
///     string reason (`RefusalReason.description`) · u8 retry (0/1) · int claims · i64 N · N × (int first · int last)
///
/// The reader checks what would otherwise trap or mislead: a retry byte other than 0 or 1, a
/// negative claim count, and a range whose first index is above its last.
extension WireReader {
    mutating func refusal() throws(CodecError) -> WelcomeMessage.Refused {
        let reason = try string("welcome.refused.reason")
        let retryAt = offset
        let retry = try u8("welcome.refused.retry")
        guard retry <= 1 else { throw .invalidOptionalTag(field: "welcome.refused.retry", offset: retryAt, tag: retry) }
        let claimsAt = offset
        let claims = try int("welcome.refused.claims")
        guard claims >= 0 else { throw .negativeCount(field: "welcome.refused.claims", offset: claimsAt, value: Int64(claims)) }
        let n = try listCount("welcome.refused.indices", minimumEntryBytes: 16)
        var indices: [ClosedRange<Int>] = []
        indices.reserveCapacity(n)
        for _ in 0..<n {
            let at = offset
            let first = try int("welcome.refused.indices.first")
            let last = try int("welcome.refused.indices.last")
            guard first <= last else { throw .invalidRange(field: "welcome.refused.indices", offset: at, first: first, last: last) }
            indices.append(first...last)
        }
        return WelcomeMessage.Refused(reason: .stated(reason), retry: retry == 1, claims: claims, indices: indices)
    }
}
