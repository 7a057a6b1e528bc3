import AviaryLog

/// `1 round`, `2 rounds`, `1,250 clients`: counts in messages, with the right plural.
public func plural(_ n: Int, _ singular: String, _ pluralForm: String? = nil) -> String {
    "\(CompactIndices.grouped(n)) \(n == 1 ? singular : (pluralForm ?? singular + "s"))"
}
