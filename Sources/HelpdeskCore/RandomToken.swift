/// Random lowercase letters and digits, without look-alikes (no l, o, 0, 1): for ids people read
/// out loud (`apr_…`, `inc_…`, `evt_…`). Uses the system's secure random generator.
public func randomToken(length: Int) -> String {
    let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
    var generator = SystemRandomNumberGenerator()
    return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
}
