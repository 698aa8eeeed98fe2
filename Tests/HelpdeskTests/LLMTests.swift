import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskLLM
import HelpdeskTestSupport
import Testing

@Suite struct AnthropicClientTests {
    static let toolUse = """
        {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test", "stop_reason": "tool_use",
         "content": [{"type": "text", "text": "Let me look at the locks."},
                     {"type": "tool_use", "id": "toolu_1", "name": "blocking_locks", "input": {}}],
         "usage": {"input_tokens": 120, "output_tokens": 30}}
        """

    @Test func requestFollowsTheMessagesAPIAndToolUseIsDecoded() async throws {
        let transport = ScriptedTransport([.init(Self.toolUse)])
        let client = AnthropicClient(baseURL: URL(string: "http://127.0.0.1:9/"), apiKey: Secret("sk-ant-test-key"), model: "claude-test",
                                     maxTokens: 512, transport: transport)
        let tool = ToolDescriptor(name: "blocking_locks", agent: "database", action: .read, summary: "The blocking tree.",
                                  parameters: [ToolParameter("min_seconds", .integer, "threshold")])
        let turn = try await client.complete(
            system: "be brief",
            messages: [LLMMessage(role: .user, content: [.text("diagnose prod-db")]),
                       LLMMessage(role: .assistant, content: [.toolCall(LLMToolCall(id: "toolu_0", name: "server_info", input: [:]))]),
                       LLMMessage(role: .user, content: [.toolResult(callID: "toolu_0", content: "{\"version\":\"15\"}", isError: false)])],
            tools: [LLMToolSpec(tool)])
        #expect(turn.text == "Let me look at the locks.")
        #expect(turn.toolCalls == [LLMToolCall(id: "toolu_1", name: "blocking_locks", input: [:])])
        #expect(turn.stopReason == "tool_use")
        #expect(turn.usage == LLMUsage(inputTokens: 120, outputTokens: 30))

        let request = try #require(transport.requests.first)
        #expect(request.url.absoluteString == "http://127.0.0.1:9/v1/messages")
        #expect(request.headers["x-api-key"] == "sk-ant-test-key")
        #expect(request.headers["anthropic-version"] == "2023-06-01")
        let body = request.json
        #expect(body["model"] as? String == "claude-test")
        #expect(body["max_tokens"] as? Int == 512)
        #expect(body["system"] as? String == "be brief")
        let tools = try #require(body["tools"] as? [[String: Any]])
        #expect(tools.first?["name"] as? String == "blocking_locks")
        let schema = try #require(tools.first?["input_schema"] as? [String: Any])
        #expect(schema["type"] as? String == "object")
        #expect(((schema["properties"] as? [String: Any])?["min_seconds"] as? [String: Any])?["type"] as? String == "integer")
        let messages = try #require(body["messages"] as? [[String: Any]])
        let result = try #require((messages[2]["content"] as? [[String: Any]])?.first)
        #expect(result["type"] as? String == "tool_result")
        #expect(result["tool_use_id"] as? String == "toolu_0")
        #expect((messages[1]["content"] as? [[String: Any]])?.first?["type"] as? String == "tool_use")
    }

    @Test func rateLimitIsRetriedAfterTheServersDelay() async throws {
        let transport = ScriptedTransport([
            .init(status: 429, headers: ["retry-after": "0.05"], #"{"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}"#),
            .init(Self.toolUse),
        ])
        let client = AnthropicClient(baseURL: nil, apiKey: Secret("k"), model: "m", backoff: .milliseconds(1), transport: transport)
        let turn = try await client.complete(system: "", messages: [], tools: [])
        #expect(turn.toolCalls.count == 1)
        #expect(transport.requests.count == 2)
    }

    @Test func persistentServerErrorAndMalformedRepliesFailWithTheReason() async throws {
        let failing = ScriptedTransport(Array(repeating: .init(status: 500, #"{"type": "error", "error": {"type": "api_error", "message": "internal"}}"#), count: 3))
        let client = AnthropicClient(baseURL: nil, apiKey: Secret("k"), model: "m", backoff: .milliseconds(1), transport: failing)
        await #expect {
            try await client.complete(system: "", messages: [], tools: [])
        } throws: { error in
            "\(error)" == "HTTP 500: internal"
        }
        #expect(failing.requests.count == 3)

        let malformed = AnthropicClient(baseURL: nil, apiKey: Secret("k"), model: "m", transport: ScriptedTransport([.init("<html>oops</html>")]))
        await #expect {
            try await malformed.complete(system: "", messages: [], tools: [])
        } throws: { error in
            "\(error)".hasPrefix("the reply is not JSON")
        }
        let badRequest = AnthropicClient(baseURL: nil, apiKey: Secret("k"), model: "m",
                                         transport: ScriptedTransport([.init(status: 400, #"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too big"}}"#)]))
        await #expect {
            try await badRequest.complete(system: "", messages: [], tools: [])
        } throws: { error in
            "\(error)" == "HTTP 400: max_tokens: too big"
        }
    }
}

@Suite struct OpenAIClientTests {
    @Test func requestFollowsChatCompletionsAndToolCallsAreDecoded() async throws {
        let transport = ScriptedTransport([.init("""
            {"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "tool_calls",
              "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "long_running_queries", "arguments": "{\\"min_seconds\\": 30}"}}]}}],
             "usage": {"prompt_tokens": 90, "completion_tokens": 12, "total_tokens": 102}}
            """)])
        let client = OpenAIClient(baseURL: URL(string: "http://127.0.0.1:9/v1"), apiKey: Secret("sk-test-openai-key-123"), model: "gpt-test",
                                  transport: transport)
        let turn = try await client.complete(
            system: "sys",
            messages: [LLMMessage(role: .user, content: [.text("hi")]),
                       LLMMessage(role: .assistant, content: [.text("checking"), .toolCall(LLMToolCall(id: "call_0", name: "server_info", input: [:]))]),
                       LLMMessage(role: .user, content: [.toolResult(callID: "call_0", content: "{}", isError: false)])],
            tools: [LLMToolSpec(ToolDescriptor(name: "long_running_queries", agent: "database", action: .read, summary: "x"))])
        #expect(turn.toolCalls == [LLMToolCall(id: "call_1", name: "long_running_queries", input: ["min_seconds": .number(30)])])
        #expect(turn.text == "")
        #expect(turn.usage.total == 102)
        let request = try #require(transport.requests.first)
        #expect(request.url.absoluteString == "http://127.0.0.1:9/v1/chat/completions")
        #expect(request.headers["authorization"] == "Bearer sk-test-openai-key-123")
        let messages = try #require(request.json["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant", "tool"])
        #expect(messages[3]["tool_call_id"] as? String == "call_0")
        let call = try #require((messages[2]["tool_calls"] as? [[String: Any]])?.first)
        #expect((call["function"] as? [String: Any])?["arguments"] as? String == "{}")
        let tool = try #require((request.json["tools"] as? [[String: Any]])?.first)
        #expect(tool["type"] as? String == "function")
    }

    @Test func argumentsThatAreNotJSONAreAnError() async throws {
        let transport = ScriptedTransport([.init("""
            {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "tool_calls": [
              {"id": "c", "type": "function", "function": {"name": "pods", "arguments": "{not json"}}]}}]}
            """)])
        let client = OpenAIClient(baseURL: nil, apiKey: nil, model: "m", transport: transport)
        await #expect {
            try await client.complete(system: "", messages: [], tools: [])
        } throws: { error in
            "\(error)".contains("are not a JSON object")
        }
    }
}

@Suite struct InvestigatorTests {
    let agent = FakeAgent(
        tools: [FakeAgent.read("blocking_locks"),
                ToolDescriptor(name: "terminate_backend", agent: "database", action: .destructive, summary: "end a session",
                               parameters: [ToolParameter("pid", .integer, required: true, "pid")])],
        answers: ["blocking_locks": .output(.object(["blockers": .array([.object(["pid": .number(4242)])])]))])

    private func anthropic(_ replies: [ScriptedTransport.Reply]) -> (ScriptedTransport, Investigator) {
        let transport = ScriptedTransport(replies)
        let client = AnthropicClient(baseURL: nil, apiKey: Secret("k"), model: "m", attempts: 1, transport: transport)
        return (transport, Investigator(client: client, limits: .init(maxSteps: 4, tokenBudget: 10_000)))
    }

    @Test func readToolsRunAndWriteToolsAreOnlyProposed() async throws {
        let (transport, investigator) = anthropic([
            .init(#"{"content": [{"type": "tool_use", "id": "t1", "name": "blocking_locks", "input": {}}], "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 5}}"#),
            .init(#"{"content": [{"type": "tool_use", "id": "t2", "name": "terminate_backend", "input": {"pid": 4242}}], "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 5}}"#),
            .init(#"{"content": [{"type": "text", "text": "PID 4242 blocks everyone.\nTerminate it."}], "stop_reason": "end_turn", "usage": {"input_tokens": 10, "output_tokens": 5}}"#),
        ])
        let result = await investigator.investigate(target: "prod-db", briefing: "locks", gate: OpenGate(agents: [agent]), principal: .tester, via: "test")
        #expect(result.analysis == "PID 4242 blocks everyone.\nTerminate it.")
        #expect(result.proposedActions == [ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(4242)])])
        #expect(agent.received.map(\.tool) == ["blocking_locks"], "the destructive tool never ran")
        #expect(result.toolResults.map(\.call.tool) == ["blocking_locks"])
        #expect(result.steps == 3)
        #expect(result.usage.total == 45)
        #expect(result.stoppedBecause == nil)
        // The model saw the real tool output, and was told the write was only recorded.
        let secondRequest = transport.requests[1].json["messages"] as? [[String: Any]]
        let toolResult = (secondRequest?.last?["content"] as? [[String: Any]])?.first?["content"] as? String
        #expect(toolResult?.contains("4242") == true)
        let thirdRequest = transport.requests[2].json["messages"] as? [[String: Any]]
        #expect(((thirdRequest?.last?["content"] as? [[String: Any]])?.first?["content"] as? String)?.hasPrefix("recorded as a recommended action") == true)
    }

    @Test func stepCapAndTokenBudgetEndTheInvestigation() async throws {
        let looping = #"{"content": [{"type": "tool_use", "id": "t", "name": "blocking_locks", "input": {}}], "stop_reason": "tool_use", "usage": {"input_tokens": 100, "output_tokens": 10}}"#
        let (_, capped) = anthropic(Array(repeating: .init(looping), count: 10))
        let byCap = await capped.investigate(target: "prod-db", briefing: "", gate: OpenGate(agents: [agent]), principal: .tester, via: "test")
        #expect(byCap.stoppedBecause == "step cap of 4 reached")
        #expect(byCap.analysis == nil)

        let expensive = #"{"content": [{"type": "tool_use", "id": "t", "name": "blocking_locks", "input": {}}], "stop_reason": "tool_use", "usage": {"input_tokens": 9000, "output_tokens": 2000}}"#
        let (_, budgeted) = anthropic([.init(expensive), .init(expensive)])
        let byBudget = await budgeted.investigate(target: "prod-db", briefing: "", gate: OpenGate(agents: [agent]), principal: .tester, via: "test")
        #expect(byBudget.stoppedBecause == "token budget of 10000 reached after 1 step(s)")
    }

    @Test func aFailingModelEndsTheInvestigationWithTheReason() async throws {
        let (_, investigator) = anthropic([.init(status: 529, #"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#)])
        let result = await investigator.investigate(target: "prod-db", briefing: "", gate: OpenGate(agents: [agent]), principal: .tester, via: "test")
        #expect(result.stoppedBecause == "the anthropic model could not be asked: HTTP 529: Overloaded")
    }
}
