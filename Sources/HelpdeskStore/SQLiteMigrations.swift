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
        return migrator
    }
}
