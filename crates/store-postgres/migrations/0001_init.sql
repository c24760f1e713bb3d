-- CrossCare PostgreSQL schema, version 1.
--
-- Every table is keyed by the partition first (`part`, the partition name), so that under
-- Citus every table can be distributed by `part` and colocated: a single-partition statement
-- touches one shard group. No foreign keys, triggers or cross-partition unique constraints
-- (Citus cannot enforce them across shards); see docs/design/scale-out.md.

-- The current version of every resource ever written (deleted ones included).
CREATE TABLE resource (
    part     text        NOT NULL,
    rtype    text        NOT NULL,
    id       text        NOT NULL,
    version  bigint      NOT NULL,
    ts       timestamptz NOT NULL,
    deleted  boolean     NOT NULL,
    PRIMARY KEY (part, rtype, id)
);
CREATE INDEX resource_by_ts ON resource (part, rtype, deleted, ts);

-- The global order of versions (ties of `ts` are broken by it in history).
CREATE SEQUENCE version_seq AS bigint;

-- Every version ever written. `body` is the exact JSON text handed out (NULL for a deletion);
-- `change` is 0 = create, 1 = update, 2 = delete.
CREATE TABLE version (
    part     text        NOT NULL,
    rtype    text        NOT NULL,
    id       text        NOT NULL,
    version  bigint      NOT NULL,
    seq      bigint      NOT NULL DEFAULT nextval('version_seq'),
    ts       timestamptz NOT NULL,
    change   smallint    NOT NULL,
    body     text,
    PRIMARY KEY (part, rtype, id, version)
);
CREATE INDEX version_by_type ON version (part, rtype, ts, seq);
CREATE INDEX version_by_partition ON version (part, ts, seq);

-- Search index tables. Each row belongs to the current version of (part, rtype, id) and is
-- replaced when a new version is written. `grp` numbers composite tuples (0 outside
-- composites); `cid` is the local id of the contained resource the value came from.
CREATE TABLE idx_token (
    part text NOT NULL, rtype text NOT NULL, id text NOT NULL, param text NOT NULL,
    grp integer NOT NULL, cid text,
    system text, code text, display text, type_system text, type_code text
);
CREATE INDEX idx_token_code ON idx_token (part, rtype, param, code, system);
CREATE INDEX idx_token_res ON idx_token (part, rtype, id);

CREATE TABLE idx_string (
    part text NOT NULL, rtype text NOT NULL, id text NOT NULL, param text NOT NULL,
    grp integer NOT NULL, cid text,
    norm text NOT NULL, exact text NOT NULL
);
CREATE INDEX idx_string_norm ON idx_string (part, rtype, param, norm text_pattern_ops);
CREATE INDEX idx_string_res ON idx_string (part, rtype, id);

CREATE TABLE idx_date (
    part text NOT NULL, rtype text NOT NULL, id text NOT NULL, param text NOT NULL,
    grp integer NOT NULL, cid text,
    lo bigint NOT NULL, hi bigint NOT NULL
);
CREATE INDEX idx_date_lo ON idx_date (part, rtype, param, lo);
CREATE INDEX idx_date_hi ON idx_date (part, rtype, param, hi);
CREATE INDEX idx_date_res ON idx_date (part, rtype, id);

CREATE TABLE idx_number (
    part text NOT NULL, rtype text NOT NULL, id text NOT NULL, param text NOT NULL,
    grp integer NOT NULL, cid text,
    val double precision NOT NULL, lo double precision NOT NULL, hi double precision NOT NULL
);
CREATE INDEX idx_number_lo ON idx_number (part, rtype, param, lo);
CREATE INDEX idx_number_res ON idx_number (part, rtype, id);

CREATE TABLE idx_quantity (
    part text NOT NULL, rtype text NOT NULL, id text NOT NULL, param text NOT NULL,
    grp integer NOT NULL, cid text,
    system text, code text, unit text,
    val double precision NOT NULL, lo double precision NOT NULL, hi double precision NOT NULL
);
CREATE INDEX idx_quantity_code ON idx_quantity (part, rtype, param, code, lo);
CREATE INDEX idx_quantity_lo ON idx_quantity (part, rtype, param, lo);
CREATE INDEX idx_quantity_res ON idx_quantity (part, rtype, id);

CREATE TABLE idx_reference (
    part text NOT NULL, rtype text NOT NULL, id text NOT NULL, param text NOT NULL,
    grp integer NOT NULL, cid text,
    ttype text, tid text, tversion text, url text, local text,
    idf_system text, idf_code text
);
CREATE INDEX idx_reference_target ON idx_reference (part, rtype, param, tid, ttype);
CREATE INDEX idx_reference_reverse ON idx_reference (part, ttype, tid);
CREATE INDEX idx_reference_url ON idx_reference (part, rtype, param, url);
CREATE INDEX idx_reference_res ON idx_reference (part, rtype, id);

CREATE TABLE idx_uri (
    part text NOT NULL, rtype text NOT NULL, id text NOT NULL, param text NOT NULL,
    grp integer NOT NULL, cid text,
    uri text NOT NULL
);
CREATE INDEX idx_uri_value ON idx_uri (part, rtype, param, uri);
CREATE INDEX idx_uri_res ON idx_uri (part, rtype, id);

-- One row per composite tuple; its components are rows of the typed tables under the
-- parameter code '<composite>$<position>' with the same grp.
CREATE TABLE idx_composite (
    part text NOT NULL, rtype text NOT NULL, id text NOT NULL, param text NOT NULL,
    grp integer NOT NULL, cid text
);
CREATE INDEX idx_composite_param ON idx_composite (part, rtype, param, id);
CREATE INDEX idx_composite_res ON idx_composite (part, rtype, id);
