import ServiceLifecycle

/// Last in the service group, so the first to hear a graceful shutdown: API key checks still waiting
/// for a hashing thread are answered 503 at once. The listeners, which stop next and wait for their
/// requests, are then not held up by a queue of Argon2id checks nobody needs any more.
struct KeyCheckShutdown: Service {
    let verifier: BearerKeyVerifier

    func run() async {
        try? await gracefulShutdown()  // (throws only when the group is cancelled: stop the checks then too)
        verifier.shutdown()
    }
}
