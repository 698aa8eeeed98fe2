import Foundation

/// Decodes a form body into its fields (the last value wins for a repeated name).
public func parseForm(_ body: String) -> [String: String] {
    var components = URLComponents()
    // In forms a space may arrive as "+", which URL query decoding leaves alone.
    components.percentEncodedQuery = body.replacingOccurrences(of: "+", with: "%20")
    var fields: [String: String] = [:]
    for item in components.queryItems ?? [] { fields[item.name] = item.value ?? "" }
    return fields
}

