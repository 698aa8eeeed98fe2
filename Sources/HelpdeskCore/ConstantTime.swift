/// Compares two byte strings in time that depends only on their lengths, so a token check leaks
/// nothing about how much of a guess was right. Inlinable: unspecialized, the generic loop was 7%
/// of the signed Slack ack's CPU.
@inlinable
public func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
    return difference == 0
}
