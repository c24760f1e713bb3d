-- CrossCare PostgreSQL schema, version 3: multi-column statistics on the index tables.
--
-- Every search condition is `rtype = ? AND param = ? AND <value> = ?`, and these columns are
-- strongly correlated (`gender` exists only on a few types, `male` only under `gender`).
-- Under the planner's independence assumption, `Patient/gender/male` on 5,000 patients was
-- estimated at 2 rows instead of 2,500, and a `_has` search joined with it ran a nested loop
-- of 2,500 × the `_has` set (100 s instead of 0.1 s; docs/bench/postgres.md). Functional
-- dependencies and multi-column most-common values fix the estimates after ANALYZE.
CREATE STATISTICS idx_token_stats (dependencies, mcv) ON rtype, param, code FROM idx_token;
CREATE STATISTICS idx_reference_stats (dependencies, mcv) ON rtype, param, ttype FROM idx_reference;
CREATE STATISTICS idx_quantity_stats (dependencies, mcv) ON rtype, param, code FROM idx_quantity;
CREATE STATISTICS idx_string_stats (dependencies, mcv) ON rtype, param FROM idx_string;
CREATE STATISTICS idx_date_stats (dependencies, mcv) ON rtype, param FROM idx_date;
CREATE STATISTICS idx_number_stats (dependencies, mcv) ON rtype, param FROM idx_number;
CREATE STATISTICS idx_uri_stats (dependencies, mcv) ON rtype, param FROM idx_uri;
CREATE STATISTICS idx_composite_stats (dependencies, mcv) ON rtype, param FROM idx_composite;
