-- CrossCare PostgreSQL schema, version 5: server-wide settings.
--
-- A handful of small values every server sharing the database reads (today the state of
-- custom search parameters: which are searchable, and a stamp that changes whenever a
-- SearchParameter of the default partition is written, so that the other servers reload).
-- Under Citus this is a reference table: replicated to every node, written rarely.
CREATE TABLE setting (
    key   text PRIMARY KEY,
    value text NOT NULL
);
