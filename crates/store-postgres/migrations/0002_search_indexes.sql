-- CrossCare PostgreSQL schema, version 2: the indexes the shared search compiler's plans use
-- (`crosscare_store::search_sql`, docs/design/search-sql.md and docs/design/store-postgres.md).

-- Number and quantity conditions compare the value column `val` (`val >= low AND val < high`
-- for `eq`, `val > v` for `gt`, …), not the precision bounds `lo`/`hi`: index `val`, and drop
-- the `lo` indexes of version 1, which no statement uses and every write paid for.
DROP INDEX idx_number_lo;
DROP INDEX idx_quantity_lo;
DROP INDEX idx_quantity_code;
CREATE INDEX idx_number_val ON idx_number (part, rtype, param, val);
CREATE INDEX idx_quantity_val ON idx_quantity (part, rtype, param, val);
CREATE INDEX idx_quantity_code ON idx_quantity (part, rtype, param, code, val);

-- `url:below=` is a byte-wise prefix range (`uri ~>=~ v AND uri ~<~ v‖U+10FFFF`), which only a
-- `text_pattern_ops` index serves whatever the database collation; equality (`url=`) keeps
-- using idx_uri_value.
CREATE INDEX idx_uri_pattern ON idx_uri (part, rtype, param, uri text_pattern_ops);
