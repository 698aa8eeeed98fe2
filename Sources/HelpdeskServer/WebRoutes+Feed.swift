import Foundation
import HelpdeskConfig
import HelpdeskAgents
import HelpdeskCore
import HelpdeskSlack
import HelpdeskStore
import HelpdeskWeb
import Hummingbird
import HTTPTypes
import Logging

/// The feed (`/`, `/web/feed`, `/web/events`) and what it takes in (`/web/command`, `/web/action`).
extension WebRoutes {
    /// Outbox rows read to find the feed's threads (WebFeed shows the newest 50; a thread holds its root and replies).
    static let feedRows = 1000

    func feed(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Response {
        do {
            let head = WebPageHead(title: "Feed", user: visitor.user.name, csrf: visitor.csrf, tab: .feed)
            return WebResponse.page(.ok, html: web.pages.feedPage(try await threads(), head: head))
        } catch {
            return storeUnavailable(error, context, visitor: visitor)
        }
    }

    /// `main#feed`'s inside alone, for the page's live refresh.
    func feedFragment(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Response {
        do {
            return WebResponse.page(.ok, html: web.pages.feedFragment(try await threads(), csrf: visitor.csrf))
        } catch {
            return storeUnavailable(error, context, visitor: visitor)
        }
    }

    /// The feed's threads; a storm's digest is made from stored state, newest state, as Slack's is. Built
    /// once per feed version however many tabs refresh on the same change.
    func threads() async throws -> [WebThread] {
        let version = try await store.slackOutbox.feedVersion()
        if let cached = await web.feedCache.threads(at: version) { return cached }
        let threads = await WebFeed.threads(try await store.slackOutbox.feed(limit: Self.feedRows), rendered: web.renderStored)
        await web.feedCache.keep(threads, at: version)
        return threads
    }

    /// `text/event-stream` of feed changes for the page's live refresh: 401 for someone not signed in
    /// (EventSource then stops), 503 beyond the process's stream limit.
    func events(_ request: Request, _ context: AppRequestContext) async -> Response {
        let visitor: WebVisitor
        switch await auth.access(request, context: context) {
        case .signedIn(let signedIn): visitor = signedIn
        case .anonymous: return WebResponse.page(.unauthorized, html: "")
        case .refused(let status, _): return WebResponse.page(status, html: "")
        }
        guard let slot = web.streams.admit(person: visitor.user.name) else {
            context.logger.notice("web event stream refused: every stream place is taken", metadata: ["limit": "\(web.streams.limit)"])
            return WebResponse.page(.serviceUnavailable, html: "", headers: [.retryAfter: "30"])
        }
        var headers = WebResponse.securityHeaders
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        // A buffering reverse proxy (nginx) would hold the events back.
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers,
                        body: WebEventStream.body(store: store, slot: slot, until: visitor.expires,
                                                  stillSignedIn: { [auth] in
                                                      if case .signedIn = await auth.access(request, context: context) { return true }
                                                      return false
                                                  }, logger: context.logger))
    }

    /// The command box: the slash command's grammar, answered in the feed by a `web.command` job.
    func command(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor, _ fields: [String: String]) async -> Response {
        let text = (fields["text"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count <= 2000 else {
            return message(.badRequest, title: "Command too long", "A command is at most 2,000 characters; nothing was done.", visitor: visitor)
        }
        // Redacted: the audit log keeps it forever, in the hash chain, where it cannot be edited out.
        let audit = AuditDraft(kind: "request_received", principal: visitor.principal.description, target: nil, data: .object([
            "via": .string("web"), "text": .string(redactor.redact(text)), "request_id": .string(context.requestID),
        ]))
        return await queue(WebCommandJob.job(user: visitor.user.name, text: text), audit: audit, context, visitor)
    }

    /// A button of the feed or the incident view, acted on by a `web.action` job.
    func action(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor, _ fields: [String: String]) async -> Response {
        guard let kind = fields["kind"].flatMap(BlockAction.Kind.init(rawValue:)),
              let value = fields["value"], !value.isEmpty, value.count <= 4000,
              (fields["thread"] ?? "").count <= 300
        else {
            return message(.badRequest, title: "Form not valid", "This button's form is not one helpdesk made; nothing was done.", visitor: visitor)
        }
        let thread = fields["thread"] ?? ""
        // A click answers in its message's thread: one the bot started, never one a form names out of thin air.
        do {
            if !thread.isEmpty, try await !store.slackOutbox.threadExists(thread) {
                return message(.badRequest, title: "Form not valid", "This button's thread does not exist; nothing was done.", visitor: visitor)
            }
        } catch {
            return storeUnavailable(error, context, visitor: visitor)
        }
        let audit = AuditDraft(kind: "request_received", principal: visitor.principal.description, target: Self.cut(value, 300), data: .object([
            "via": .string("web-button"), "action": .string(kind.rawValue), "request_id": .string(context.requestID),
        ]))
        return await queue(WebActionJob.job(user: visitor.user.name, kind: kind, value: value, thread: thread), audit: audit, context, visitor)
    }

    /// Records the job and its audit event in one transaction, then back to the feed, where the answer appears.
    private func queue(_ job: NewJob, audit: AuditDraft, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Response {
        // Each command or click queues work (a diagnosis queries production): a bounded amount per person.
        if let wait = web.requestsPerPerson.take(visitor.user.name) {
            context.logger.notice("web request refused: too many from one person", metadata: ["user": "\(visitor.user.name)"])
            let seconds = max(1, Int(wait.rounded(.up)))
            var page = head(visitor, title: "Too many requests")
            page["message"] = "You sent more than \(WebDependencies.requestsPerPersonPerMinute) commands or clicks in a minute; try again in \(seconds) s."
            page["message_class"] = "refused"
            return render("web_message", page, status: .tooManyRequests, headers: [.retryAfter: String(seconds)])
        }
        do {
            try await store.apply(ChangeSet(jobs: [job], audit: [audit]))
        } catch {
            context.logger.warning("web request not recorded: the store is unavailable", metadata: ["error": "\(error)"])
            return message(.serviceUnavailable, title: "Not recorded",
                           "helpdesk cannot record your request right now (its database is unavailable), so nothing was done. "
                           + "Please try again in a minute.", visitor: visitor)
        }
        return WebResponse.redirect(to: "/")
    }
}
