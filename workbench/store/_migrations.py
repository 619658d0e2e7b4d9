"""The catalog schema, as numbered migrations. `PRAGMA user_version` records how many have run.

Append new migrations; never edit one that has shipped.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[str, ...] = (
    # 1: every table the workbench needs, minimal where a later feature fills it in.
    """
    CREATE TABLE artifacts (
        key TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE datasets (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        entry_json TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        rows INTEGER NOT NULL,
        columns INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE experiments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        dataset TEXT NOT NULL,
        dataset_hash TEXT NOT NULL,
        target TEXT NOT NULL,
        problem_type TEXT NOT NULL,
        metric TEXT NOT NULL,
        spec_json TEXT NOT NULL,
        split_hash TEXT NOT NULL,
        split_artifact TEXT NOT NULL REFERENCES artifacts(key),
        status TEXT NOT NULL DEFAULT 'created',
        created_at REAL NOT NULL
    );
    CREATE TABLE trials (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id),
        engine TEXT NOT NULL,
        number INTEGER NOT NULL,
        state TEXT NOT NULL,
        params_json TEXT NOT NULL DEFAULT '{}',
        values_json TEXT,
        error TEXT,
        worker TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        UNIQUE (experiment_id, engine, number)
    );
    CREATE TABLE candidates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id),
        trial_id INTEGER REFERENCES trials(id),
        engine TEXT NOT NULL,
        name TEXT NOT NULL,
        model_type TEXT NOT NULL,
        valid_score REAL,
        test_score REAL,
        fit_time_s REAL,
        predict_row_ms REAL,
        predict_batch_ms REAL,
        size_bytes INTEGER,
        params_json TEXT NOT NULL DEFAULT '{}',
        artifact_key TEXT REFERENCES artifacts(key),
        created_at REAL NOT NULL
    );
    CREATE TABLE ensembles (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id),
        method TEXT NOT NULL,
        members_json TEXT NOT NULL,
        valid_score REAL,
        test_score REAL,
        predict_row_ms REAL,
        predict_batch_ms REAL,
        size_bytes INTEGER,
        artifact_key TEXT REFERENCES artifacts(key),
        created_at REAL NOT NULL
    );
    CREATE TABLE registry_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        source_kind TEXT NOT NULL,
        source_id INTEGER NOT NULL,
        bundle_key TEXT NOT NULL,
        manifest_sha256 TEXT NOT NULL,
        metrics_json TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE registry_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (name, alias),
        FOREIGN KEY (name, version) REFERENCES registry_versions(name, version)
    );
    CREATE TABLE endpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model TEXT NOT NULL,
        version INTEGER,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        pid INTEGER,
        status TEXT NOT NULL,
        log_path TEXT,
        created_at REAL NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        params_json TEXT NOT NULL DEFAULT '{}',
        pid INTEGER,
        created_at REAL NOT NULL,
        finished_at REAL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment_id INTEGER REFERENCES experiments(id),
        kind TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX trials_by_experiment ON trials(experiment_id, state);
    CREATE INDEX candidates_by_experiment ON candidates(experiment_id);
    CREATE INDEX events_by_experiment ON events(experiment_id, id);
    """,
    # 2: searches find the unfinished experiment they started, by a fingerprint of their command.
    """
    ALTER TABLE experiments ADD COLUMN fingerprint TEXT;
    ALTER TABLE candidates ADD COLUMN model_in_artifact TEXT;
    ALTER TABLE candidates ADD COLUMN predictions_key TEXT REFERENCES artifacts(key);
    CREATE INDEX experiments_by_fingerprint ON experiments(fingerprint, status);
    CREATE INDEX trials_by_state ON trials(experiment_id, engine, number)
    """,
    # 3: registry versions keep their number after deletion (a tombstone), and a description.
    """
    ALTER TABLE registry_versions ADD COLUMN deleted_at REAL;
    ALTER TABLE registry_versions ADD COLUMN description TEXT NOT NULL DEFAULT ''
    """,
    # 4: generic jobs (a search is one kind) with their host, stop requests and outputs; endpoints run as
    # jobs; profiles cached by their source's fingerprint.
    """
    ALTER TABLE jobs ADD COLUMN experiment_id INTEGER REFERENCES experiments(id);
    ALTER TABLE jobs ADD COLUMN host TEXT;
    ALTER TABLE jobs ADD COLUMN pid_start TEXT;
    ALTER TABLE jobs ADD COLUMN started_at REAL;
    ALTER TABLE jobs ADD COLUMN heartbeat_at REAL;
    ALTER TABLE jobs ADD COLUMN log_path TEXT;
    ALTER TABLE jobs ADD COLUMN outputs_json TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE jobs ADD COLUMN error TEXT;
    ALTER TABLE jobs ADD COLUMN stop_mode TEXT;
    ALTER TABLE jobs ADD COLUMN stop_requested_at REAL;
    UPDATE jobs SET experiment_id = json_extract(params_json, '$.experiment_id'),
        log_path = json_extract(params_json, '$.log') WHERE kind = 'search';
    CREATE INDEX jobs_by_experiment ON jobs(experiment_id, id);
    ALTER TABLE endpoints ADD COLUMN job_id INTEGER REFERENCES jobs(id);
    CREATE TABLE profiles (
        dataset TEXT NOT NULL,
        options TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        profile_json TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (dataset, options)
    )
    """,
    # 5: a job started from inside another (a search from a notebook job) names it, so that cancelling the
    # notebook cancels what it started.
    """
    ALTER TABLE jobs ADD COLUMN parent_id INTEGER REFERENCES jobs(id);
    CREATE INDEX jobs_by_parent ON jobs(parent_id);
    """,
    # 6: model archives are signed. Public keys this workspace trusts to sign archives it imports, and
    # each version's provenance (registered here, or imported: signed by whom, or trusted by hand).
    """
    CREATE TABLE trusted_keys (
        key_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        public_key TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    ALTER TABLE registry_versions ADD COLUMN provenance_json TEXT NOT NULL DEFAULT '{}';
    """,
    # 7: finalized models: a candidate refitted with the same hyperparameters on more rows after selection
    # ("all" rows, or "train+valid"), its own artifact beside the candidate's.
    """
    CREATE TABLE finals (
        candidate_id INTEGER NOT NULL REFERENCES candidates(id),
        mode TEXT NOT NULL,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id),
        rows INTEGER NOT NULL,
        artifact_key TEXT NOT NULL REFERENCES artifacts(key),
        model_in_artifact TEXT,
        fit_time_s REAL,
        created_at REAL NOT NULL,
        PRIMARY KEY (candidate_id, mode)
    );
    CREATE INDEX finals_by_experiment ON finals(experiment_id);
    """,
    # 8: a candidate's probability calibration, decided on the valid rows when the metric is log loss
    # (JSON: method, temperature, out-of-fold log loss before and after, reason); NULL: none decided.
    """
    ALTER TABLE candidates ADD COLUMN calibration_json TEXT;
    """,
    # 9: a final may average several refits of its candidate with different seeds (`seeds` of them).
    """
    ALTER TABLE finals ADD COLUMN seeds INTEGER NOT NULL DEFAULT 1;
    """,
    # 10: an AutoGluon final whose bags were refitted as bags: over how many folds (1: one model per bag).
    """
    ALTER TABLE finals ADD COLUMN bag_folds INTEGER NOT NULL DEFAULT 1;
    """,
)
