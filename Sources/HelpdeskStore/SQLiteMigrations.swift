import GRDB

/// Versioned schema changes, applied in order and recorded in the file. Never edit a shipped
/// migration: add the next one.
enum SQLiteMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-job-queue") { db in
            try db.execute(sql: """
                CREATE TABLE jobs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    dedup_key TEXT UNIQUE,
                    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    max_attempts INTEGER NOT NULL,
                    run_at REAL NOT NULL,
                    lease_owner TEXT,
                    lease_token INTEGER,
                    lease_expires_at REAL,
                    last_error TEXT,
                    result TEXT,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    finished_at REAL
                );
                CREATE INDEX jobs_due ON jobs(run_at) WHERE state = 'queued';
                CREATE INDEX jobs_leased ON jobs(lease_expires_at) WHERE state = 'running';
                CREATE INDEX jobs_state ON jobs(state, id);
                CREATE TABLE job_runs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    attempt INTEGER NOT NULL,
                    worker TEXT NOT NULL,
                    started_at REAL NOT NULL,
                    finished_at REAL,
                    outcome TEXT CHECK (outcome IN ('done', 'failed', 'abandoned', 'released')),
                    error TEXT
                );
                CREATE INDEX job_runs_job ON job_runs(job_id);
                """)
        }
        migrator.registerMigration("v2-incidents") { db in
            try db.execute(sql: """
                CREATE TABLE incidents (
                    id TEXT PRIMARY KEY,
                    created_at REAL NOT NULL,
                    target TEXT NOT NULL,
                    trigger TEXT NOT NULL,
                    summary TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    finding_count INTEGER NOT NULL,
                    bundle_path TEXT NOT NULL,
                    bundle_bytes INTEGER NOT NULL
                );
                CREATE INDEX incidents_created ON incidents(created_at);
                """)
        }
        migrator.registerMigration("v3-audit-and-approvals") { db in
            try db.execute(sql: """
                CREATE TABLE audit_events (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    at_us INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    principal TEXT,
                    target TEXT,
                    data TEXT NOT NULL,
                    prev_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                );
                CREATE INDEX audit_events_at ON audit_events(at_us);
                CREATE TABLE approvals (
                    id TEXT PRIMARY KEY,
                    created_at REAL NOT NULL,
                    expires_at REAL NOT NULL,
                    requester TEXT NOT NULL,
                    request TEXT NOT NULL,
                    decision TEXT NOT NULL,
                    quorum INTEGER NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
                    decided_at REAL,
                    decided_by TEXT,
                    execution TEXT CHECK (execution IN ('queued', 'running', 'succeeded', 'failed')),
                    result TEXT,
                    executed_at REAL
                );
                CREATE INDEX approvals_pending ON approvals(expires_at) WHERE status = 'pending';
                CREATE TABLE approval_votes (
                    approval_id TEXT NOT NULL REFERENCES approvals(id),
                    principal TEXT NOT NULL,
                    vote TEXT NOT NULL CHECK (vote IN ('approve', 'deny')),
                    reason TEXT,
                    at REAL NOT NULL,
                    via TEXT,
                    PRIMARY KEY (approval_id, principal)
                );
                """)
        }
        migrator.registerMigration("v4-slack-outbox") { db in
            try db.execute(sql: """
                CREATE TABLE slack_outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    channel TEXT NOT NULL,
                    method TEXT NOT NULL,
                    body TEXT NOT NULL,
                    thread_key TEXT,
                    is_root INTEGER NOT NULL DEFAULT 0,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL NOT NULL,
                    lease_until REAL,
                    ts TEXT,
                    error TEXT,
                    created_at REAL NOT NULL,
                    sent_at REAL
                );
                CREATE INDEX slack_outbox_pending ON slack_outbox(channel, id) WHERE state = 'pending';
                CREATE TABLE slack_threads (
                    thread_key TEXT PRIMARY KEY,
                    channel TEXT NOT NULL,
                    ts TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v5-alerts") { db in
            try db.execute(sql: """
                CREATE TABLE alerts (
                    fingerprint TEXT NOT NULL,
                    starts_at TEXT NOT NULL,
                    status TEXT NOT NULL,
                    group_key TEXT NOT NULL,
                    receiver TEXT NOT NULL,
                    labels TEXT NOT NULL,
                    annotations TEXT NOT NULL,
                    ends_at TEXT,
                    generator_url TEXT,
                    received_at REAL NOT NULL,
                    PRIMARY KEY (fingerprint, starts_at, status)
                );
                ALTER TABLE slack_outbox ADD COLUMN once_key TEXT;
                CREATE UNIQUE INDEX slack_outbox_once ON slack_outbox(once_key);
                """)
        }
        // The audit key each event was sealed with; NULL (the rows before it) means plain SHA-256.
        migrator.registerMigration("v6-audit-key-id") { db in
            try db.execute(sql: "ALTER TABLE audit_events ADD COLUMN key_id TEXT")
        }
        // Writes done under an execution key (a Slack trigger id, an API Idempotency-Key), so a retry never repeats one.
        migrator.registerMigration("v7-executions") { db in
            try db.execute(sql: """
                CREATE TABLE executions (
                    key TEXT PRIMARY KEY,
                    principal TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'pending_approval')),
                    approval_id TEXT,
                    result TEXT,
                    created_at REAL NOT NULL,
                    finished_at REAL
                );
                """)
        }
        // Storms: O(1) bookkeeping per notification, shared by every process using the store; the
        // outbox coalesces edits of a message, renders bodies from stored state and keeps a per-channel budget.
        migrator.registerMigration("v8-storms") { db in
            try db.execute(sql: """
                ALTER TABLE slack_outbox ADD COLUMN rendered TEXT;
                ALTER TABLE slack_outbox ADD COLUMN coalesce_key TEXT;
                ALTER TABLE slack_outbox ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE slack_outbox ADD COLUMN edit_gap REAL;
                CREATE UNIQUE INDEX slack_outbox_coalesce ON slack_outbox(coalesce_key) WHERE state = 'pending';
                CREATE INDEX slack_outbox_sent ON slack_outbox(channel, sent_at) WHERE state = 'sent';
                CREATE TABLE alert_minutes (
                    channel TEXT NOT NULL,
                    minute INTEGER NOT NULL,
                    firing INTEGER NOT NULL,
                    PRIMARY KEY (channel, minute)
                ) WITHOUT ROWID;
                CREATE TABLE storms (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    channel TEXT NOT NULL,
                    started_at REAL NOT NULL,
                    last_alert_at REAL NOT NULL,
                    closed_at REAL,
                    firing INTEGER NOT NULL DEFAULT 0,
                    resolved INTEGER NOT NULL DEFAULT 0,
                    group_count INTEGER NOT NULL DEFAULT 0,
                    diagnose_top INTEGER NOT NULL,
                    settle REAL NOT NULL,
                    digest_interval REAL NOT NULL,
                    quiet REAL NOT NULL,
                    posts INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX storms_open ON storms(channel) WHERE closed_at IS NULL;
                CREATE TABLE storm_groups (
                    storm_id INTEGER NOT NULL,
                    group_key TEXT NOT NULL,
                    name TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    firing INTEGER NOT NULL,
                    resolved INTEGER NOT NULL,
                    PRIMARY KEY (storm_id, group_key)
                );
                CREATE TABLE storm_candidates (
                    storm_id INTEGER NOT NULL,
                    fingerprint TEXT NOT NULL,
                    starts_at TEXT NOT NULL,
                    alertname TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    rank INTEGER NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('queued', 'started', 'displaced')),
                    resolved INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (storm_id, fingerprint, starts_at)
                );
                CREATE INDEX storm_candidates_alert ON storm_candidates(fingerprint, starts_at);
                CREATE INDEX alerts_received ON alerts(received_at);
                CREATE INDEX jobs_finished ON jobs(finished_at) WHERE state IN ('done', 'dead');
                """)
        }
        // What each execution key was first used for (SHA-256 of tool, target and arguments), so a
        // key reused for another call is refused.
        migrator.registerMigration("v9-execution-fingerprint") { db in
            try db.execute(sql: "ALTER TABLE executions ADD COLUMN fingerprint TEXT")
        }
        // Edits coalesce per channel: one key (a thread key) reused in two channels names two
        // messages, and a pending edit of one must not take the other's body.
        migrator.registerMigration("v10-outbox-coalesce-per-channel") { db in
            try db.execute(sql: """
                DROP INDEX slack_outbox_coalesce;
                CREATE UNIQUE INDEX slack_outbox_coalesce ON slack_outbox(channel, coalesce_key) WHERE state = 'pending';
                """)
        }
        // Messages leave in order per thread (a "thread line"), not per channel: a reply waits for its
        // thread's root without holding other threads. The line checks, the due check and the
        // channels with a send in flight each read a few index entries, never the sent rows.
        migrator.registerMigration("v11-outbox-thread-lines") { db in
            try db.execute(sql: """
                CREATE INDEX slack_outbox_thread_line ON slack_outbox(channel, thread_key, is_root, id) WHERE state = 'pending';
                CREATE INDEX slack_outbox_due ON slack_outbox(next_attempt_at) WHERE state = 'pending';
                CREATE INDEX slack_outbox_leased ON slack_outbox(lease_until) WHERE state = 'pending';
                """)
        }
        // A storm keeps the threshold it opened with (NULL for storms opened before: the configured one
        // applies) and ends once the channel's rate has stayed at or below it for the quiet period
        // (`calm_from`: when the rate fell, or falls, to it). Resolutions count only for alerts that
        // fired from `first_alert` (an alerts rowid) on. Places among the diagnoses are found through a
        // partial index holding at most `diagnose_top` rows per storm.
        migrator.registerMigration("v12-storm-lifecycle") { db in
            try db.execute(sql: """
                ALTER TABLE storms ADD COLUMN threshold INTEGER;
                ALTER TABLE storms ADD COLUMN calm_from REAL NOT NULL DEFAULT 0;
                ALTER TABLE storms ADD COLUMN first_alert INTEGER NOT NULL DEFAULT 0;
                UPDATE storms SET calm_from = last_alert_at;
                CREATE INDEX storm_candidates_places ON storm_candidates(storm_id) WHERE state != 'displaced' AND resolved = 0;
                """)
        }
        // When a firing alert was last received (a repeat refreshes it at most every 10 minutes, a
        // resolution sets it too), so retention prunes an alert still firing only once Alertmanager
        // stopped sending it, and a resolved one by the age of its resolution.
        migrator.registerMigration("v13-alert-seen-at") { db in
            try db.execute(sql: """
                ALTER TABLE alerts ADD COLUMN seen_at REAL NOT NULL DEFAULT 0;
                UPDATE alerts SET seen_at = received_at WHERE status = 'resolved';
                UPDATE alerts SET seen_at = COALESCE((SELECT MAX(r.received_at) FROM alerts r WHERE r.fingerprint = alerts.fingerprint
                    AND r.starts_at = alerts.starts_at AND r.status = 'resolved'), received_at) WHERE status = 'firing';
                CREATE INDEX alerts_firing_seen ON alerts(seen_at) WHERE status = 'firing';
                CREATE INDEX alerts_resolved_at ON alerts(received_at) WHERE status = 'resolved';
                """)
        }
        // Alert groups, so a group's thread (its slack_threads row and its root's once key) is pruned
        // with the group, by index: seen_at is refreshed at most every 10 minutes. Seeded from the
        // alerts and the roots already sent (the key formats are SlackViews.alertThreadKey's and AlertIntake's).
        migrator.registerMigration("v14-alert-groups") { db in
            try db.execute(sql: """
                CREATE TABLE alert_groups (
                    group_key TEXT PRIMARY KEY,
                    thread_key TEXT,
                    once_key TEXT,
                    seen_at REAL NOT NULL
                );
                CREATE INDEX alert_groups_seen ON alert_groups(seen_at);
                INSERT INTO alert_groups (group_key, thread_key, once_key, seen_at)
                    SELECT group_key, 'alertgroup:' || group_key, 'alert-root:' || group_key, MAX(seen_at) FROM alerts GROUP BY group_key;
                INSERT OR IGNORE INTO alert_groups (group_key, thread_key, once_key, seen_at)
                    SELECT substr(once_key, 12), 'alertgroup:' || substr(once_key, 12), once_key, MAX(COALESCE(sent_at, created_at))
                    FROM slack_outbox WHERE once_key LIKE 'alert-root:%' GROUP BY once_key;
                """)
        }
        // An alert episode is kept per receiver: two receivers (two routes, two channels, two
        // Alertmanagers) getting the same alert each record it, diagnose it and can silence it; before,
        // the second was taken for a repeat and dropped. Rowids are kept (storms.first_alert compares them).
        migrator.registerMigration("v15-alerts-per-receiver") { db in
            try db.execute(sql: """
                CREATE TABLE alerts_per_receiver (
                    fingerprint TEXT NOT NULL,
                    starts_at TEXT NOT NULL,
                    status TEXT NOT NULL,
                    group_key TEXT NOT NULL,
                    receiver TEXT NOT NULL,
                    labels TEXT NOT NULL,
                    annotations TEXT NOT NULL,
                    ends_at TEXT,
                    generator_url TEXT,
                    received_at REAL NOT NULL,
                    seen_at REAL NOT NULL DEFAULT 0,
                    PRIMARY KEY (fingerprint, starts_at, receiver, status)
                );
                INSERT INTO alerts_per_receiver (rowid, fingerprint, starts_at, status, group_key, receiver, labels, annotations, ends_at,
                                                 generator_url, received_at, seen_at)
                    SELECT rowid, fingerprint, starts_at, status, group_key, receiver, labels, annotations, ends_at, generator_url,
                           received_at, seen_at FROM alerts;
                DROP TABLE alerts;
                ALTER TABLE alerts_per_receiver RENAME TO alerts;
                CREATE INDEX alerts_received ON alerts(received_at);
                CREATE INDEX alerts_firing_seen ON alerts(seen_at) WHERE status = 'firing';
                CREATE INDEX alerts_resolved_at ON alerts(received_at) WHERE status = 'resolved';
                """)
        }
        // Work only one replica may do at a time (sweeps, digests, retention) holds a lease that
        // moves when its holder stops renewing; bundles kept in the store are served by every replica.
        migrator.registerMigration("v16-singletons-and-bundles") { db in
            try db.execute(sql: """
                CREATE TABLE singleton_leases (
                    name TEXT PRIMARY KEY,
                    owner TEXT NOT NULL,
                    expires_at REAL NOT NULL
                );
                CREATE TABLE incident_bundles (
                    incident_id TEXT PRIMARY KEY,
                    content BLOB NOT NULL
                );
                """)
        }
        // The web channel shows every message with the newest edit of its root, whatever was sent, and
        // refuses the cookies of sessions signed out before they expired.
        migrator.registerMigration("v17-web-channel") { db in
            try db.execute(sql: """
                CREATE INDEX slack_outbox_thread ON slack_outbox(thread_key, channel, id);
                CREATE TABLE web_sessions_ended (
                    session_id TEXT PRIMARY KEY,
                    expires_at REAL NOT NULL
                );
                """)
        }
        // Followers of the store (secbot over the audit log, govbot's schedule) record how far they got in
        // the same transaction as their work; jobs and messages keep the request and trace they were queued
        // from (``WorkOrigin``), so their runs continue them.
        migrator.registerMigration("v18-progress-and-origin") { db in
            try db.execute(sql: """
                CREATE TABLE progress_marks (
                    name TEXT PRIMARY KEY,
                    position INTEGER NOT NULL,
                    updated_at REAL
                );
                ALTER TABLE jobs ADD COLUMN origin TEXT;
                ALTER TABLE slack_outbox ADD COLUMN origin TEXT;
                -- What secbot and govbot look up per event: decisions and detections by kind and target.
                CREATE INDEX audit_events_kind_target ON audit_events(kind, target, seq);
                CREATE INDEX audit_events_principal_kind ON audit_events(principal, kind, target, seq);
                """)
        }
        // Every Slack command and API call records a request_received event under the caller's name.
        // Indexed by principal, each of those inserts lands on another page (one per person), which
        // under a burst of commands was most of the store's write volume and its p99. Lookups by
        // principal name their kind (secbot's decisions and calls, refused votes): request_received
        // events are left out of the index, and the queries say so (see SQLiteAuditLog.latestQuery).
        migrator.registerMigration("v19-audit-principal-index-without-requests") { db in
            try db.execute(sql: """
                DROP INDEX audit_events_principal_kind;
                CREATE INDEX audit_events_principal_kind ON audit_events(principal, kind, target, seq)
                    WHERE kind <> 'request_received';
                """)
        }
        return migrator
    }
}
