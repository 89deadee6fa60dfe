-- Publish the marts to the reader roles. Run by the pipeline after every build, only
-- when the blocking mart checks passed: a rebuilt mart is a new table with no grants, so
-- readers never see a mart that failed its checks. Idempotent.
do $$
begin
    if not exists (select from pg_roles where rolname = 'analyst') then
        create role analyst nologin;
    end if;
    if not exists (select from pg_roles where rolname = 'bi_reader') then
        create role bi_reader nologin;
    end if;
end
$$;

revoke all on schema raw from public;
grant usage on schema marts to analyst, bi_reader;
grant select on all tables in schema marts to analyst, bi_reader;
grant usage on schema staging, intermediate to analyst;
grant select on all tables in schema staging, intermediate to analyst;
