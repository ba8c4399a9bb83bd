-- The verification of sanitize/staging.sql (scripts/refresh-staging-data.sh runs it on the sanitized
-- copy, before staging's database is replaced): it must return no rows. A row names a table, a
-- column and how many of its values are not sanitized; never a value, so the rows may be printed.
-- Owned with sanitize/staging.sql (.github/CODEOWNERS).
CREATE OR REPLACE FUNCTION pg_temp.unsanitized() RETURNS TABLE (relation text, column_name text, unsanitized bigint)
LANGUAGE plpgsql AS $verify$
DECLARE
	c record;
	allowed text;
	n bigint;
BEGIN
	FOR c IN
		SELECT col.table_schema, col.table_name, col.column_name
		FROM information_schema.columns col
		JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE t.table_type = 'BASE TABLE'
			AND col.table_schema NOT IN ('pg_catalog', 'information_schema')
			AND col.table_schema NOT LIKE 'pg\_%'
			AND (col.data_type IN ('text', 'character varying') OR col.udt_name = 'citext')
		ORDER BY 1, 2, 3
	LOOP
		allowed := CASE
			-- No address outside the sandbox domain: staging's mail can reach no one.
			WHEN c.column_name ~* 'e_?mail' THEN $a$%I NOT LIKE '%%@sandbox.invalid'$a$
			WHEN c.column_name ~* '(password|passwd|secret|token|otp|mfa|api_?key|salt|hash)' THEN $a$%I <> 'sanitized'$a$
			WHEN c.column_name ~* '(phone|mobile)' THEN $a$%I <> '+10000000000'$a$
			WHEN c.column_name ~* '^(first|last|full|display|given|family)_?name$' THEN $a$%I <> 'User'$a$
			WHEN c.column_name ~* '(ip_?address|user_?agent)' THEN $a$%I <> 'sanitized'$a$
		END;
		CONTINUE WHEN allowed IS NULL;
		EXECUTE format('SELECT count(*) FROM %I.%I WHERE ' || allowed, c.table_schema, c.table_name, c.column_name) INTO n;
		IF n > 0 THEN
			relation := format('%I.%I', c.table_schema, c.table_name);
			column_name := c.column_name;
			unsanitized := n;
			RETURN NEXT;
		END IF;
	END LOOP;
END
$verify$;

SELECT relation, column_name, unsanitized FROM pg_temp.unsanitized();
