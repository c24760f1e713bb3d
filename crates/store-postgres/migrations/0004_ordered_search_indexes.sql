-- CrossCare PostgreSQL schema, version 4: index rows of a token code or a typed local
-- reference in row-key order, so that a page of a search with many matches is an ordered walk
-- that stops after the page instead of a sort of every match.
--
-- The page order of a search is the row key (part, rtype, id). With equality on every column
-- before `id`, these indexes list the matches in that order: `Observation?code=X&_count=20`
-- reads about 20 index rows, not the 77,000 rows of a common code at 1 M resources, and a
-- bounded total stops after its limit. They are partial (`cid IS NULL`, and for references
-- `url IS NULL`, conditions every arm of the search compiler carries), so values of contained
-- resources and absolute references do not pay for them; both replace the indexes of version 1
-- whose columns they contain. `system` follows `id`: a `system|code` search walks the code's
-- rows in key order and checks the system inside the index (a code is nearly always used with
-- one system), and a plain `code` search is ordered too.
--
-- The reverse index gains `rtype` and the same partial conditions, so that the types referring
-- to a resource (`referring_types`, asked once per `$everything`) come from the index alone:
-- it read the heap row of each of a patient's ~1,200 references (26 ms on a cold cache).
--
-- Partial indexes and indexes led by `part` are distributable on Citus
-- (docs/design/scale-out.md). Building them takes a lock that blocks writes to the two tables
-- for the duration (about a minute at 1 M resources), once, at the first start of this version.
DROP INDEX idx_token_code;
CREATE INDEX idx_token_code ON idx_token (part, rtype, param, code, id, system)
    WHERE cid IS NULL;
DROP INDEX idx_reference_target;
CREATE INDEX idx_reference_target ON idx_reference (part, rtype, param, tid, ttype, id)
    WHERE cid IS NULL AND url IS NULL;
DROP INDEX idx_reference_reverse;
CREATE INDEX idx_reference_reverse ON idx_reference (part, ttype, tid, rtype)
    WHERE cid IS NULL AND url IS NULL;
