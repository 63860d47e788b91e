import { quoteIdentifier as id, quoteLiteral as literal, type ItemStatement } from './postgres-statements.ts'

/**
 * Versioned, so that a later dbhook replaces it cleanly: older dbhook_grant_app_permissions_v* are dropped. v2
 * warns, naming the role, when the app role it grants to no longer exists (v1 said nothing).
 */
export const eventTriggerName = 'dbhook_grant_app_permissions_v2'

/** Whether the session's user may create event triggers: a superuser, or a member of a managed cloud's superuser role. */
export const mayCreateEventTriggersSql = `((SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR EXISTS (
    SELECT 1 FROM pg_roles c
     WHERE c.rolname IN ('rds_superuser', 'cloudsqlsuperuser', 'alloydbsuperuser')
       AND pg_has_role(current_user, c.oid, 'MEMBER')))`

/** The function's comment: presence is judged by it, so a trigger for another app role counts as missing. */
export const eventTriggerComment = (app: string) => `dbhook v2: grants on new objects to role ${app}`

// Every dbhook permission trigger of any version, oldest first, with its function: dropped before this one is made.
const dbhookTriggers = `SELECT t.evtname, t.evtfoid FROM pg_event_trigger t WHERE t.evtname LIKE 'dbhook\\_grant\\_app\\_permissions\\_v%'`

/**
 * The permission event trigger: after each DDL command it grants the app role rights on exactly the objects the
 * command created (pg_event_trigger_ddl_commands()), in any non-system schema. The function is SECURITY DEFINER
 * owned by the database owner, so it can grant only on the owner's objects; its search_path is pinned; every
 * failure becomes a WARNING so the user's DDL never fails because of it, and a dropped app role is a WARNING that
 * names it.
 */
export function eventTriggerStatements(app: string, owner: string): ItemStatement[] {
  const fn = `public.${eventTriggerName}()`
  let body = `
DECLARE
  obj record;
  app_role constant text := ${literal(app)};
  app_exists constant boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = app_role);
BEGIN
  FOR obj IN
    SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands()
     WHERE schema_name IS NOT NULL
       AND schema_name NOT IN ('pg_catalog', 'information_schema')
       AND schema_name NOT LIKE 'pg\\_%'
       AND (command_tag LIKE 'CREATE %' OR command_tag = 'SELECT INTO' OR object_type = 'sequence')
       AND object_type IN ('table', 'view', 'materialized view', 'foreign table', 'sequence')
  LOOP
    IF NOT app_exists THEN
      RAISE WARNING 'dbhook: role % does not exist, so it was granted no rights on %; dbhook apply creates it again, DROP EVENT TRIGGER ${eventTriggerName} stops this', app_role, obj.object_identity;
      CONTINUE;
    END IF;
    BEGIN
      IF obj.object_type = 'sequence' THEN
        EXECUTE pg_catalog.format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I', obj.object_identity, app_role);
      ELSE
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO %I', obj.object_identity, app_role);
      END IF;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'dbhook: could not grant % rights on %: %', app_role, obj.object_identity, SQLERRM;
    END;
  END LOOP;
  FOR obj IN
    SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() WHERE object_type = 'schema' AND command_tag = 'CREATE SCHEMA'
  LOOP
    IF NOT app_exists THEN
      RAISE WARNING 'dbhook: role % does not exist, so it was granted no usage on schema %; dbhook apply creates it again, DROP EVENT TRIGGER ${eventTriggerName} stops this', app_role, obj.object_identity;
      CONTINUE;
    END IF;
    BEGIN
      EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %s TO %I', obj.object_identity, app_role);
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'dbhook: could not grant % usage on schema %: %', app_role, obj.object_identity, SQLERRM;
    END;
  END LOOP;
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'dbhook: permission event trigger failed: %', SQLERRM;
END`
  // The app name is inside the body as a literal; choose a dollar-quote tag the body cannot contain.
  let tag = '$dbhook$'
  for (let n = 1; body.includes(tag); n += 1) tag = `$dbhook${n}$`
  body = `${tag}${body}${tag}`
  return [
    // One query for both, so that every statement is known before the first drop runs.
    {
      generate: `SELECT d.sql FROM (${dbhookTriggers}) t, LATERAL (VALUES
                   (1, format('DROP EVENT TRIGGER IF EXISTS %I', t.evtname)),
                   (2, format('DROP FUNCTION IF EXISTS %s', t.evtfoid::regprocedure))) d(n, sql)
                 ORDER BY t.evtname, d.n`,
    },
    `CREATE OR REPLACE FUNCTION ${fn} RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ${body}`,
    `ALTER FUNCTION ${fn} OWNER TO ${id(owner)}`,
    `REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`,
    `COMMENT ON FUNCTION ${fn} IS ${literal(eventTriggerComment(app))}`,
    `CREATE EVENT TRIGGER ${eventTriggerName} ON ddl_command_end EXECUTE FUNCTION ${fn}`,
  ]
}
