-- Restore drill checks (plan 4.2), run by estate-ops' restore_drill DAG on PostgreSQL.
--
-- Each query starts with a `-- name: <name>` line. The drill runs `table_counts` on the source
-- at the restore request (the recorded counts) and both queries on the scratch instance; the
-- session is read-only and every statement has a timeout. Edit the schema filter to match the
-- estate; the query names and result columns are the contract with the drill.

-- name: table_counts
-- One row per base table of the application schemas: (table name, exact row count).
SELECT format('%I.%I', t.table_schema, t.table_name) AS table_name,
       (xpath('/row/n/text()',
              query_to_xml(format('SELECT count(*) AS n FROM %I.%I', t.table_schema, t.table_name),
                           false, true, '')))[1]::text::bigint AS row_count
FROM information_schema.tables AS t
WHERE t.table_type = 'BASE TABLE'
  AND t.table_schema NOT IN ('pg_catalog', 'information_schema')
  AND t.table_schema NOT LIKE 'pg\_%'
ORDER BY 1;

-- name: newest_updated_at
-- The newest `updated_at` over every table that has one, as seconds since the epoch (UTC), so a
-- `timestamp` and a `timestamptz` column read the same. NULL when no table has a value.
SELECT max((xpath('/row/m/text()',
                  query_to_xml(format('SELECT extract(epoch FROM max(%I)) AS m FROM %I.%I',
                                      c.column_name, c.table_schema, c.table_name),
                               false, true, '')))[1]::text::numeric) AS newest_epoch
FROM information_schema.columns AS c
JOIN information_schema.tables AS t USING (table_schema, table_name)
WHERE c.column_name = 'updated_at'
  AND t.table_type = 'BASE TABLE'
  AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
  AND c.table_schema NOT LIKE 'pg\_%';
