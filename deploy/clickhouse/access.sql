-- pdm-stream runtime users on current ClickHouse (20.8+), created once by an administrator after the first
-- `pdm-stream migrate` as pdm_migrator (which creates the roles, see users.xml). Replace the hashes:
--   echo -n "$PASSWORD" | sha256sum
-- Each user gets exactly one role, as its default role; nothing is granted to the users themselves.
CREATE USER IF NOT EXISTS pdm_engine IDENTIFIED WITH sha256_hash BY 'ENGINE_PASSWORD_SHA256_HEX';
CREATE USER IF NOT EXISTS pdm_ops IDENTIFIED WITH sha256_hash BY 'OPS_PASSWORD_SHA256_HEX';
CREATE USER IF NOT EXISTS pdm_dlq IDENTIFIED WITH sha256_hash BY 'DLQ_PASSWORD_SHA256_HEX';
GRANT pdm_engine_role TO pdm_engine;
GRANT pdm_ops_role TO pdm_ops;
GRANT pdm_dlq_role TO pdm_dlq;
ALTER USER pdm_engine DEFAULT ROLE pdm_engine_role;
ALTER USER pdm_ops DEFAULT ROLE pdm_ops_role;
ALTER USER pdm_dlq DEFAULT ROLE pdm_dlq_role;
-- Dashboards and ad-hoc queries must not lift their own limits (Grafana's ClickHouse plugin may need
-- `readonly = 2` instead: settings it sends are then allowed, writes still are not).
CREATE SETTINGS PROFILE IF NOT EXISTS pdm_ops_profile SETTINGS readonly = 1, max_execution_time = 60 TO pdm_ops;
