-- The sanitization of production's data for staging (scripts/refresh-staging-data.sh runs it on the
-- temporary copy, in one transaction; any error stops the refresh before staging is touched).
-- One fixed file, owned by the data's owners (.github/CODEOWNERS): the workflow takes no other.
-- sanitize/staging-verify.sql then proves it: it must return no rows.
--
-- By column name, in every table of every schema but PostgreSQL's own, text columns only:
--   *email*                           -> user-<random>@sandbox.invalid: staging's mail goes nowhere
--                                        (.invalid never resolves, RFC 2606), never to a person
--   *password*, *secret*, *token*, *otp*, *mfa*, *api_key*, *salt*, *hash*
--                                     -> 'sanitized' (no login, no session, no key survives)
--   *phone*, *mobile*                 -> '+10000000000'
--   first/last/full/display/given/family name
--                                     -> 'User'
--   *ip_address*, *user_agent*        -> 'sanitized'
-- The app team adds what its schema needs beyond these (a reviewed change to this file).
DO $sanitize$
DECLARE
	c record;
	replacement text;
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
		replacement := CASE
			WHEN c.column_name ~* 'e_?mail' THEN
				$r$'user-' || left(md5(random()::text || clock_timestamp()::text), 16) || '@sandbox.invalid'$r$
			WHEN c.column_name ~* '(password|passwd|secret|token|otp|mfa|api_?key|salt|hash)' THEN $r$'sanitized'$r$
			WHEN c.column_name ~* '(phone|mobile)' THEN $r$'+10000000000'$r$
			WHEN c.column_name ~* '^(first|last|full|display|given|family)_?name$' THEN $r$'User'$r$
			WHEN c.column_name ~* '(ip_?address|user_?agent)' THEN $r$'sanitized'$r$
		END;
		IF replacement IS NOT NULL THEN
			EXECUTE format('UPDATE %I.%I SET %I = ' || replacement || ' WHERE %I IS NOT NULL',
				c.table_schema, c.table_name, c.column_name, c.column_name);
		END IF;
	END LOOP;
END
$sanitize$;
