import Foundation

/// The checkpoint half of ``AuditLog/verify(checkpoint:)``, shared by every store: only the chain walk
/// reads the store's own way; comparing the walk's end with a checkpoint needs one ``AuditLog/hash(at:)``.
extension AuditLog {
    /// `result` (a walk of the chain) with the checkpoint `source` names compared with its end; a failed
    /// comparison fails a chain that held.
    func comparingCheckpoint(_ result: AuditVerification, source: AuditCheckpointSource, chain: AuditChain?,
                             keyring: AuditKeyring) async throws -> AuditVerification {
        var result = result
        let check: AuditCheckpointCheck?
        switch source {
        case .none:
            check = nil
        case .given(let checkpoint, let name):
            check = try await compare(checkpoint, source: name, keyring: keyring, lastSeq: result.lastSeq)
        case .configured:
            check = try await configuredCheck(chain, keyring: keyring, lastSeq: result.lastSeq)
        }
        result.checkpoint = check
        if let check, check.failed, result.ok {
            result.ok = false
            result.problem = check.message
        }
        return result
    }

    private func configuredCheck(_ chain: AuditChain?, keyring: AuditKeyring, lastSeq: Int64) async throws -> AuditCheckpointCheck? {
        guard let path = chain?.checkpointFile else { return nil }
        let stored: AuditCheckpoint?
        do {
            stored = try AuditCheckpoint.read(file: path)
        } catch {
            return AuditCheckpointCheck(status: .unreadable, source: path, message: error.description)
        }
        guard let stored else {
            return AuditCheckpointCheck(status: .absent, source: path, message: "no audit checkpoint at \(path) yet: " +
                                        "events deleted from the end of the log cannot be detected until the server writes one")
        }
        return try await compare(stored, source: path, keyring: keyring, lastSeq: lastSeq)
    }

    private func compare(_ checkpoint: AuditCheckpoint, source: String, keyring: AuditKeyring, lastSeq: Int64) async throws -> AuditCheckpointCheck {
        var check = AuditCheckpointCheck(status: .ok, source: source, seq: checkpoint.seq, at: checkpoint.at, keyID: checkpoint.keyID,
                                         message: "the log reaches the checkpoint of \(checkpoint.at) (seq \(checkpoint.seq)) and matches it")
        if let (status, message) = checkpoint.macProblem(keyring: keyring) {
            check.status = status
            check.message = message
        } else if lastSeq < checkpoint.seq {
            let missing = checkpoint.seq - lastSeq
            check.status = .missingEvents
            check.message = "the log ends at seq \(lastSeq) but a checkpoint of \(checkpoint.at) saw seq \(checkpoint.seq): " +
                "\(missing) event\(missing == 1 ? " is" : "s are") missing"
        } else if checkpoint.seq > 0, try await hash(at: checkpoint.seq) != checkpoint.hash {
            check.status = .rewritten
            check.message = "event \(checkpoint.seq) no longer has the hash the checkpoint of \(checkpoint.at) saw: " +
                "the log was rewritten after it"
        }
        return check
    }
}
