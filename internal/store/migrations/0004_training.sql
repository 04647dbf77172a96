-- Training: modules with versioned content, the rules that assign them, and
-- members' attempts and completions. One text for both engines: times are
-- BIGINT Unix microseconds (UTC), flags INTEGER 0/1.

-- A training module. Its content lives in versions: current_version is the
-- published version members take (0 before the first publication) and
-- draft_version the version being edited (0 when there is none). A published
-- version never changes; editing a published module makes a new draft. The
-- settings below are policy, not content, and change without a new version.
CREATE TABLE training_modules (
    id                     TEXT PRIMARY KEY,
    status                 TEXT NOT NULL,              -- draft | published | retired
    current_version        INTEGER NOT NULL DEFAULT 0,
    draft_version          INTEGER NOT NULL DEFAULT 0,
    mandatory              INTEGER NOT NULL DEFAULT 1,
    validity_months        INTEGER NOT NULL DEFAULT 0, -- 0: a completion never lapses
    blocks_existing_access INTEGER NOT NULL DEFAULT 0, -- a new module blocks members who already have access
    position               INTEGER NOT NULL DEFAULT 0, -- display order
    first_published_at     BIGINT NOT NULL DEFAULT 0,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);

-- One version of a module's content. published_at is 0 while it is a draft.
-- page_count and question_count are kept here so that progress is computed
-- without counting rows.
CREATE TABLE training_module_versions (
    module_id      TEXT NOT NULL REFERENCES training_modules(id),
    version        INTEGER NOT NULL,
    title          TEXT NOT NULL,
    summary        TEXT NOT NULL,
    pass_mark      INTEGER NOT NULL DEFAULT 0,   -- percent; 0 when there is no knowledge check
    page_count     INTEGER NOT NULL DEFAULT 0,
    question_count INTEGER NOT NULL DEFAULT 0,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    published_by   TEXT NOT NULL DEFAULT '',
    published_at   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (module_id, version)
);

-- The pages of a version, in order (page_no from 1), in Markdown. They are
-- rendered to safe HTML when read, so an improvement to the renderer applies
-- to every version at once.
CREATE TABLE training_pages (
    module_id TEXT NOT NULL,
    version   INTEGER NOT NULL,
    page_no   INTEGER NOT NULL,
    title     TEXT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (module_id, version, page_no),
    FOREIGN KEY (module_id, version) REFERENCES training_module_versions(module_id, version)
);

-- The knowledge check of a version: multiple-choice questions. options is a
-- JSON array of strings; correct is the index of the right one. id is what
-- members' answers name.
CREATE TABLE training_questions (
    module_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    question_no INTEGER NOT NULL,
    id          TEXT NOT NULL,
    prompt      TEXT NOT NULL,
    options     TEXT NOT NULL,
    correct     INTEGER NOT NULL,
    PRIMARY KEY (module_id, version, question_no),
    UNIQUE (module_id, version, id),
    FOREIGN KEY (module_id, version) REFERENCES training_module_versions(module_id, version)
);

-- Assignment rules: a module is assigned to members of an organisation (''
-- for any), with a job category ('' for any) and a record role ('' for any).
-- Assignments are computed from these rules when read, so a change applies at
-- once.
CREATE TABLE training_rules (
    id              TEXT PRIMARY KEY,
    module_id       TEXT NOT NULL REFERENCES training_modules(id),
    organisation_id TEXT NOT NULL DEFAULT '',
    job_category    TEXT NOT NULL DEFAULT '',   -- compared without regard to case
    record_role     TEXT NOT NULL DEFAULT '',   -- care_professional | administrator | ''
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (module_id, organisation_id, job_category, record_role)
);
CREATE INDEX training_rules_module ON training_rules (module_id);

-- A member's go at one version of a module: pages finished in order and the
-- knowledge check. open_key (user:module) is set while the attempt is open
-- and cleared when it finishes or is abandoned, so that a person has at most
-- one open attempt per module on both engines (NULLs never clash). Finished
-- attempts stay: they are the history of completions and retakes.
CREATE TABLE training_attempts (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    module_id    TEXT NOT NULL REFERENCES training_modules(id),
    version      INTEGER NOT NULL,
    state        TEXT NOT NULL,                 -- open | finished | abandoned
    pages_done   INTEGER NOT NULL DEFAULT 0,    -- pages 1..pages_done are finished
    check_tries  INTEGER NOT NULL DEFAULT 0,
    check_score  INTEGER NOT NULL DEFAULT -1,   -- percent of the last try; -1 before any
    check_passed INTEGER NOT NULL DEFAULT 0,
    started_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    finished_at  BIGINT NOT NULL DEFAULT 0,
    open_key     TEXT UNIQUE
);
CREATE INDEX training_attempts_user ON training_attempts (user_id, module_id);

-- A person's current completion of a module: the version and when, kept
-- while they retake it and replaced when a retake finishes. expires_at is 0
-- when the module's completions never lapse; reminded_30 and reminded_7 say
-- when each reminder before the lapse was queued, and lapsed_at when the
-- lapse was recorded, so that each happens once.
CREATE TABLE training_completions (
    user_id      TEXT NOT NULL REFERENCES users(id),
    module_id    TEXT NOT NULL REFERENCES training_modules(id),
    version      INTEGER NOT NULL,
    attempt_id   TEXT NOT NULL,
    completed_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL DEFAULT 0,
    reminded_30  BIGINT NOT NULL DEFAULT 0,
    reminded_7   BIGINT NOT NULL DEFAULT 0,
    lapsed_at    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, module_id)
);
CREATE INDEX training_completions_expiry ON training_completions (expires_at);
