import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskIncidents
import HelpdeskSlack
import HelpdeskStore
import HelpdeskWeb
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `GET /web/incidents`, `GET /web/incidents/{id}` and its bundle.
extension WebRoutes {
    /// The largest bundle read for its findings, and the largest served.
    static let maxBundleRead = 16 << 20
    static let maxBundleServed = 1 << 30

    func incidents(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Response {
        do {
            let records = try await store.incidents.list(limit: 200)
            var page = head(visitor, title: "Incidents", tab: .incidents)
            page["incidents"] = records.map { record -> [String: Any] in
                ["id": record.id, "created": Self.time(record.createdAt), "target": record.target, "trigger": record.trigger,
                 "severity": record.severity, "summary": Self.cut(record.summary, 300), "findings": String(record.findingCount)]
            }
            page["empty"] = records.isEmpty
            return render("incidents", page)
        } catch {
            return storeUnavailable(error, context, visitor: visitor)
        }
    }

    /// The incident: its summary, and from its bundle's diagnosis summary the findings, their evidence and
    /// the recommended actions, each with a Run button (a `web.action`, through the gate like Slack's).
    func incident(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Response {
        let id = context.parameters.get("id") ?? ""
        let record: IncidentRecord
        switch await incidentRecord(id, context, visitor) {
        case .success(let found): record = found
        case .failure(let refusal): return refusal.response
        }
        var view: [String: Any] = [
            "id": record.id, "created": Self.time(record.createdAt), "target": record.target, "trigger": record.trigger,
            "severity": record.severity, "summary": record.summary, "findings_count": String(record.findingCount),
            "bundle_bytes": String(record.bundleBytes), "bundle": "/web/incidents/\(record.id)/bundle",
        ]
        do {
            let diagnosis = try await diagnosisSummary(record)
            view.merge(Self.diagnosisView(diagnosis)) { _, new in new }
        } catch {
            context.logger.warning("incident bundle not readable", metadata: ["incident": "\(record.id)", "error": "\(error)"])
            view["bundle_problem"] = "The bundle could not be read, so its findings are not shown: \(error)"
        }
        var page = head(visitor, title: "Incident \(record.id)", tab: .incidents)
        page["incident"] = view
        return render("incident", page)
    }

    /// `diagnosis.json` of the incident's bundle (where it is kept: the store, or the recorded file).
    func diagnosisSummary(_ record: IncidentRecord) async throws -> JSONValue {
        let archive: Data
        if record.bundleIsInStore {
            guard let stored = try await store.incidents.bundle(id: record.id) else {
                throw BundleReadError.unreadable(path: "the store", reason: "the bundle is no longer kept (pruned by retention)")
            }
            archive = stored
        } else {
            archive = try Self.bundleFile(record, limit: Self.maxBundleRead).readAll()
        }
        guard let member = try IncidentBundle.member(IncidentBundle.diagnosisMember, id: record.id, archive: archive) else {
            throw BundleReadError.corrupt("it has no \(IncidentBundle.diagnosisMember)")
        }
        return try JSONValue(parsing: String(decoding: member, as: UTF8.self))
    }

    /// Only the file the index recorded for this incident, and only when it is named as a bundle of
    /// this id is: a damaged index row cannot make the page serve another file.
    static func bundleFile(_ record: IncidentRecord, limit: Int) throws -> BundleFile {
        guard URL(fileURLWithPath: record.bundlePath).lastPathComponent == "\(record.id).tar.gz" else {
            throw BundleReadError.notRegularFile(record.bundlePath)
        }
        return try BundleFile(path: record.bundlePath, limit: limit)
    }

    /// Findings (with their advice, how many elements each stands for, and their evidence) and recommended
    /// actions from a diagnosis summary, cut to what a page shows. Everything is text the template escapes.
    static func diagnosisView(_ diagnosis: JSONValue) -> [String: Any] {
        let findings: [[String: Any]] = (diagnosis["findings"]?.arrayValue ?? []).prefix(50).enumerated().map { index, finding in
            var entry: [String: Any] = [
                "number": String(index + 1), "severity": finding["severity"]?.description ?? "info",
                "summary": cut(finding["summary"]?.description ?? "", 1000), "rule": finding["rule"]?.description ?? "-",
                "tool": finding["tool"]?.description ?? "-",
            ]
            // As Slack shows it: advice under the finding, cut like the summary.
            if let advice = finding["advice"], advice != .null, !advice.description.isEmpty {
                entry["advice"] = cut(advice.description, 1000)
            }
            // A grouped finding (`count` > 1) says how many it stands for; older bundles have no count.
            if let count = finding["count"]?.doubleValue.flatMap({ Int(exactly: $0) }), count > 1 { entry["count"] = String(count) }
            if let evidence = finding["evidence"], evidence != .null { entry["evidence"] = cut(evidence.prettyJSONText, 4000) }
            return entry
        }
        let actions: [[String: Any]] = (diagnosis["recommended_actions"]?.arrayValue ?? []).prefix(20).compactMap { action in
            guard let callJSON = action["call"], let call = try? JSONDecoder().decode(ToolCall.self, from: Data(callJSON.jsonText.utf8)) else {
                return nil
            }
            var entry: [String: Any] = ["call": call.summary, "reason": cut(action["reason"]?.description ?? "", 1000), "tool": call.tool]
            // The button's value is what Slack's Run button carries: the call and the incident it came from (so
            // approvers read why); one too long for the form gets no button.
            let origin = diagnosis["incident_id"].map { ApprovalOrigin(incidentID: $0.description, finding: action["finding"]?.description) }
            if let value = RunActionButton(call: call, origin: origin).value(fitting: 4000) { entry["value"] = value }
            return entry
        }
        var view: [String: Any] = ["finding_list": findings, "has_findings": !findings.isEmpty, "actions": actions, "has_actions": !actions.isEmpty]
        let problems = (diagnosis["problems"]?.arrayValue ?? []).prefix(20).map { ["text": cut($0.description, 500)] }
        view["problems"] = problems
        view["has_problems"] = !problems.isEmpty
        if let analysis = diagnosis["analysis"], analysis != .null { view["analysis"] = cut(analysis.description, 8000) }
        return view
    }

    /// Why an incident page cannot be shown: the answer to send instead.
    struct Refusal: Error {
        let response: Response
    }

    /// The incident `id` names, or the page saying there is none (404) or that the store is away (503).
    func incidentRecord(_ id: String, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Result<IncidentRecord, Refusal> {
        do {
            guard let found = try await store.incidents.incident(id: id) else {
                return .failure(Refusal(response: message(.notFound, title: "No such incident", "There is no incident \(id).", visitor: visitor)))
            }
            return .success(found)
        } catch {
            return .failure(Refusal(response: storeUnavailable(error, context, visitor: visitor)))
        }
    }

    /// The bundle, as a download: from the store, or streamed from its recorded file.
    func bundle(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Response {
        let id = context.parameters.get("id") ?? ""
        let record: IncidentRecord
        switch await incidentRecord(id, context, visitor) {
        case .success(let found): record = found
        case .failure(let refusal): return refusal.response
        }
        var headers = WebResponse.securityHeaders
        headers[.contentType] = "application/gzip"
        headers[.cacheControl] = "no-store"
        // The id goes into a header: only the characters ids are made of.
        let name = String(String.UnicodeScalarView(record.id.unicodeScalars.filter {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_-.".unicodeScalars.contains($0))
        }))
        headers[.contentDisposition] = "attachment; filename=\"\(name).tar.gz\""
        if record.bundleIsInStore {
            let stored: Data?
            do {
                stored = try await store.incidents.bundle(id: record.id)
            } catch {
                return storeUnavailable(error, context, visitor: visitor)
            }
            guard let data = stored else {
                return message(.notFound, title: "Bundle gone", "The bundle of \(id) is no longer kept (retention pruned it).", visitor: visitor)
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        let file: BundleFile
        do {
            file = try Self.bundleFile(record, limit: Self.maxBundleServed)
        } catch {
            context.logger.warning("incident bundle not served", metadata: ["incident": "\(record.id)", "error": "\(error)"])
            return message(.notFound, title: "Bundle not available", "The bundle of \(id) cannot be read.", visitor: visitor)
        }
        context.logger.info("incident bundle downloaded", metadata: ["incident": "\(record.id)", "user": "\(visitor.user.name)"])
        return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: file.size) { writer in
            var offset = 0
            while offset < file.size {
                let chunk = try file.read(at: offset, count: 1 << 16)
                if chunk.isEmpty { break }
                try await writer.write(ByteBuffer(bytes: chunk))
                offset += chunk.count
            }
            try await writer.finish(nil)
        })
    }
}
