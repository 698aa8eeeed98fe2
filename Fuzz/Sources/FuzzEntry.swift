import Foundation

// libFuzzer's entry points. One binary serves every target: HELPDESK_FUZZ_TARGET picks one, read once
// at start, so a single sanitizer build covers them all (scripts/fuzz runs each in turn).

/// The target this process fuzzes; a global `let` is initialised once, on first use.
let selectedTarget: FuzzTarget? = ProcessInfo.processInfo.environment["HELPDESK_FUZZ_TARGET"].flatMap(FuzzTarget.init(rawValue:))

@_cdecl("LLVMFuzzerInitialize")
func fuzzInitialize(_ argc: OpaquePointer?, _ argv: OpaquePointer?) -> Int32 {
    guard selectedTarget != nil else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("helpdesk-fuzz: set HELPDESK_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selectedTarget?.run(bytes)
    return 0
}
