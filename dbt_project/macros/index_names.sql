{#
    Readable index names: dbt-postgres names an index by an md5 of its columns, the relation
    and the time; BI tools and `\di marts.*` show those hashes. This override names it
    `<table>__<column>_<column>_idx` (`_uidx` when unique), cut to PostgreSQL's 63 characters
    with a short hash of the full name when longer.

    A table model is built as `<table>__dbt_tmp` while the old `<table>` still holds the index
    of that name, and an index name is unique in its schema. So an index of the name on
    ANOTHER table (the one about to be swapped out and dropped) is first renamed to dbt's own
    hashed name; on an incremental model's existing table `if not exists` keeps the index.
#}
{% macro readable_index_name(relation, index_config) -%}
    {%- set table = relation.identifier | replace('__dbt_tmp', '') | replace('__dbt_backup', '') -%}
    {%- set suffix = '_uidx' if index_config.unique else '_idx' -%}
    {%- set name = table ~ '__' ~ (index_config.columns | join('_')) ~ suffix -%}
    {%- if name | length > 63 -%}
        {%- set name = name[:50] ~ '_' ~ local_md5(name)[:8] ~ suffix -%}
    {%- endif -%}
    {{- name -}}
{%- endmacro %}

{% macro postgres__get_create_index_sql(relation, index_dict) -%}
    {%- set index_config = adapter.parse_index(index_dict) -%}
    {%- set index_name = readable_index_name(relation, index_config) -%}
    do $$
    begin
        if exists (
            select 1 from pg_indexes
            where schemaname = '{{ relation.schema }}'
                and indexname = '{{ index_name }}'
                and tablename <> '{{ relation.identifier }}'
        ) then
            execute 'alter index "{{ relation.schema }}"."{{ index_name }}" rename to "{{ index_config.render(relation) }}"';
        end if;
    end
    $$;
    create {% if index_config.unique -%} unique {%- endif %} index if not exists
    "{{ index_name }}"
    on {{ relation }} {% if index_config.type -%} using {{ index_config.type }} {%- endif %}
    ({{ ", ".join(index_config.columns) }})
{%- endmacro %}

{#
    The primary key of a contract: dbt creates it with the table `<table>__dbt_tmp`, so its
    index is named `<table>__dbt_tmp_pkey` (or `…_pkey1` while the old table still holds that
    name). Post-hook of the marts (dbt_project.yml), run after the swap inside the model's
    transaction: the swapped-out table's `<table>_pkey`, if any, takes a throwaway name (the
    table is dropped right after the commit), then the new key becomes `<table>_pkey`.
#}
{% macro name_primary_key(relation) -%}
    {{ return(adapter.dispatch('name_primary_key', 'crownsync')(relation)) }}
{%- endmacro %}

{# Other adapters (Spark): no indexes, no primary key to name; an empty hook is skipped. #}
{% macro default__name_primary_key(relation) -%}
    {{ return('') }}
{%- endmacro %}

{% macro postgres__name_primary_key(relation) -%}
    {%- set pkey = relation.identifier[:58] ~ '_pkey' -%}
    do $$
    declare
        current_name text;
    begin
        if exists (
            select 1 from pg_indexes
            where schemaname = '{{ relation.schema }}'
                and indexname = '{{ pkey }}'
                and tablename <> '{{ relation.identifier }}'
        ) then
            execute 'alter index {{ relation.schema }}.{{ pkey }} rename to '
                || quote_ident(left('{{ pkey }}', 46) || '_old_' || left(md5(clock_timestamp()::text), 8));
        end if;
        select index_class.relname into current_name
        from pg_index
        inner join pg_class as index_class on pg_index.indexrelid = index_class.oid
        inner join pg_class as table_class on pg_index.indrelid = table_class.oid
        inner join pg_namespace on table_class.relnamespace = pg_namespace.oid
        where pg_namespace.nspname = '{{ relation.schema }}'
            and table_class.relname = '{{ relation.identifier }}'
            and pg_index.indisprimary;
        if current_name is not null and current_name <> '{{ pkey }}' then
            execute 'alter index {{ relation.schema }}.' || quote_ident(current_name)
                || ' rename to {{ pkey }}';
        end if;
    end
    $$
{%- endmacro %}
