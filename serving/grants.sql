-- Publish the checked marts (run by the pipeline after every build; idempotent).
--
-- Runs only when the blocking mart checks passed. A dbt rebuild creates new tables without
-- grants or policies, so until this step has run, readers cannot see a rebuilt mart:
-- nobody ever reads a mart that failed its checks, and row-level security is in place
-- before any grant exists (one transaction).
--
-- Tenant rows: a mart with a brand_id column is filtered by brand, one with a retailer_id
-- column (and no brand_id) by retailer, through marts.access_grants. Marts with neither are
-- not granted to tenant logins at all. analyst and bi_reader see every tenant.
do $$
declare
    mart record;
    tenant_column text;
begin
    for mart in
        select c.relname,
               bool_or(a.attname = 'brand_id') as has_brand,
               bool_or(a.attname = 'retailer_id') as has_retailer
          from pg_class c
          join pg_namespace n on n.oid = c.relnamespace
          join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
         where n.nspname = 'marts' and c.relkind in ('r', 'p') and c.relname <> 'access_grants'
         group by c.relname
    loop
        tenant_column := case when mart.has_brand then 'brand_id' when mart.has_retailer then 'retailer_id' end;
        execute format('alter table marts.%I enable row level security', mart.relname);
        execute format('drop policy if exists tenant_rows on marts.%I', mart.relname);
        execute format(
            'create policy tenant_rows on marts.%I for select using ('
            || 'pg_has_role(current_user, ''bi_reader'', ''MEMBER'') '
            || 'or pg_has_role(current_user, ''analyst'', ''MEMBER'') %s)',
            mart.relname,
            case when tenant_column is null then ''
                 else format('or %1$I in (select g.%1$I from marts.access_grants g '
                             'where g.role_name = current_user)', tenant_column) end
        );
        execute format('grant select on marts.%I to analyst, bi_reader', mart.relname);
        if tenant_column is not null then
            execute format('grant select on marts.%I to tenant_reader', mart.relname);
        else
            execute format('revoke all on marts.%I from tenant_reader', mart.relname);
        end if;
    end loop;
end
$$;

grant usage on schema marts to analyst, bi_reader, tenant_reader;
grant select on marts.access_grants to tenant_reader;
grant select on all tables in schema marts to analyst, bi_reader;
grant usage on schema staging, intermediate to analyst;
grant select on all tables in schema staging, intermediate to analyst;
revoke all on schema raw, snapshots from analyst, bi_reader, tenant_reader;
revoke all on all tables in schema raw from analyst, bi_reader, tenant_reader;
revoke all on all tables in schema snapshots from analyst, bi_reader, tenant_reader;
