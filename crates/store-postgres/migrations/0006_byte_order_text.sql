-- CrossCare PostgreSQL schema, version 6: identifiers, codes and index values compare byte-wise.
--
-- Every key column of every table is text: the partition, the resource type and id, the
-- parameter code, token systems and codes, normalised strings, reference targets, URIs. Under
-- the database's default collation (whatever `initdb` or the DBA chose, often `en_US.UTF-8`
-- or `C.UTF-8`) each comparison in a B-tree descent, a sort or an `ANALYZE` goes through the
-- locale (`strcoll`); under `"C"` it is a `memcmp`. Nothing in CrossCare wants linguistic
-- order: the Rust side normalises strings before they are stored, text sort keys were already
-- `COLLATE "C"` (the byte order SQLite uses), and equality is byte equality under any
-- deterministic collation. So the columns themselves are `"C"`, whatever the database's
-- default, and an HTTP import into PostgreSQL spent 15 % less PostgreSQL CPU per resource
-- (docs/benchmarks.md, "PostgreSQL ingest: byte-order text").
--
-- Changing only the collation of a `text` column rewrites no table; PostgreSQL rebuilds the
-- indexes and statistics objects that use the column. The JSON `body` and `setting` values
-- are never compared and stay as they are.
ALTER TABLE resource
    ALTER COLUMN part TYPE text COLLATE "C",
    ALTER COLUMN rtype TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE version
    ALTER COLUMN part TYPE text COLLATE "C",
    ALTER COLUMN rtype TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE idx_token
    ALTER COLUMN part TYPE text COLLATE "C",
    ALTER COLUMN rtype TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN param TYPE text COLLATE "C",
    ALTER COLUMN cid TYPE text COLLATE "C",
    ALTER COLUMN system TYPE text COLLATE "C",
    ALTER COLUMN code TYPE text COLLATE "C",
    ALTER COLUMN display TYPE text COLLATE "C",
    ALTER COLUMN type_system TYPE text COLLATE "C",
    ALTER COLUMN type_code TYPE text COLLATE "C";
ALTER TABLE idx_string
    ALTER COLUMN part TYPE text COLLATE "C",
    ALTER COLUMN rtype TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN param TYPE text COLLATE "C",
    ALTER COLUMN cid TYPE text COLLATE "C",
    ALTER COLUMN norm TYPE text COLLATE "C",
    ALTER COLUMN exact TYPE text COLLATE "C";
ALTER TABLE idx_date
    ALTER COLUMN part TYPE text COLLATE "C",
    ALTER COLUMN rtype TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN param TYPE text COLLATE "C",
    ALTER COLUMN cid TYPE text COLLATE "C";
ALTER TABLE idx_number
    ALTER COLUMN part TYPE text COLLATE "C",
    ALTER COLUMN rtype TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN param TYPE text COLLATE "C",
    ALTER COLUMN cid TYPE text COLLATE "C";
ALTER TABLE idx_quantity
    ALTER COLUMN part TYPE text COLLATE "C",
    ALTER COLUMN rtype TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN param TYPE text COLLATE "C",
    ALTER COLUMN cid TYPE text COLLATE "C",
    ALTER COLUMN system TYPE text COLLATE "C",
    ALTER COLUMN code TYPE text COLLATE "C",
    ALTER COLUMN unit TYPE text COLLATE "C";
ALTER TABLE idx_reference
    ALTER COLUMN part TYPE text COLLATE "C",
    ALTER COLUMN rtype TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN param TYPE text COLLATE "C",
    ALTER COLUMN cid TYPE text COLLATE "C",
    ALTER COLUMN ttype TYPE text COLLATE "C",
    ALTER COLUMN tid TYPE text COLLATE "C",
    ALTER COLUMN tversion TYPE text COLLATE "C",
    ALTER COLUMN url TYPE text COLLATE "C",
    ALTER COLUMN local TYPE text COLLATE "C",
    ALTER COLUMN idf_system TYPE text COLLATE "C",
    ALTER COLUMN idf_code TYPE text COLLATE "C";
ALTER TABLE idx_uri
    ALTER COLUMN part TYPE text COLLATE "C",
    ALTER COLUMN rtype TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN param TYPE text COLLATE "C",
    ALTER COLUMN cid TYPE text COLLATE "C",
    ALTER COLUMN uri TYPE text COLLATE "C";
ALTER TABLE idx_composite
    ALTER COLUMN part TYPE text COLLATE "C",
    ALTER COLUMN rtype TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN param TYPE text COLLATE "C",
    ALTER COLUMN cid TYPE text COLLATE "C";
