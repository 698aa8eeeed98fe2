import HelpdeskHTTPClient

/// The job queue's retry delays: the shared backoff formula.
public typealias RetryPolicy = Backoff
