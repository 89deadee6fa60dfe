-- Warehouse bootstrap (idempotent): roles, schemas, ownership.
-- Run by `python -m crownsync.warehouse start` and before every ingestion (crownsync.warehouse.connections).
--
--   warehouse_owner  owns and builds everything (ingestion and dbt `set role` to it)
--   analyst          reads staging, intermediate, marts (granted after each checked build)
--   bi_reader        reads marts only
--   tenant_reader    brand/retailer logins: marts rows of their own tenant only (RLS)
-- Nobody but the owner reads raw or snapshots (they hold source PII).
do $$
declare
    role_name text;
begin
    foreach role_name in array array['warehouse_owner', 'analyst', 'bi_reader', 'tenant_reader'] loop
        if not exists (select from pg_roles where rolname = role_name) then
            execute format('create role %I nologin', role_name);
        end if;
    end loop;
    -- the connecting user builds as warehouse_owner
    if not pg_has_role(current_user, 'warehouse_owner', 'member') then
        execute format('grant warehouse_owner to %I', current_user);
    end if;
end
$$;

-- Database privileges. PUBLIC (every role, tenant logins included) gets neither TEMPORARY
-- (PostgreSQL's default grants it) nor CREATE: readers read, they make no temp tables and no
-- schemas. The owner role keeps all three (ingestion and dbt's incremental models create temp
-- tables after `set role warehouse_owner`; the check is made against the current role).
do $$
begin
    execute format('revoke create, temporary on database %I from public', current_database());
    execute format('grant connect, create, temporary on database %I to warehouse_owner', current_database());
    execute format('grant connect on database %I to analyst, bi_reader, tenant_reader', current_database());
    execute format('revoke create on schema public from public');
end
$$;

do $$
declare
    schema_name text;
    rel record;
begin
    foreach schema_name in array array['raw', 'staging', 'intermediate', 'marts', 'snapshots', 'quality'] loop
        execute format('create schema if not exists %I authorization warehouse_owner', schema_name);
        execute format('alter schema %I owner to warehouse_owner', schema_name);
        execute format('revoke all on schema %I from public', schema_name);
        -- objects created before the owner role existed (or by a superuser) change hands
        for rel in
            select c.relname, c.relkind
              from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = schema_name and c.relkind in ('r', 'v', 'm', 'p')
               and pg_get_userbyid(c.relowner) <> 'warehouse_owner'
        loop
            execute format(
                'alter %s %I.%I owner to warehouse_owner',
                case rel.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                 else 'table' end,
                schema_name, rel.relname
            );
        end loop;
    end loop;
end
$$;

-- who may see which tenant's rows in marts (see docs/serving.md); not managed by dbt
create table if not exists marts.access_grants (
    role_name name primary key,
    brand_id uuid,
    retailer_id uuid,
    granted_at timestamptz not null default now(),
    check ((brand_id is null) <> (retailer_id is null))
);
alter table marts.access_grants owner to warehouse_owner;
comment on table marts.access_grants is
    'Tenant logins: the brand or retailer whose rows each login may see in the marts (row-level security).';
alter table marts.access_grants enable row level security;
drop policy if exists own_grant on marts.access_grants;
create policy own_grant on marts.access_grants for select using (role_name = current_user);
