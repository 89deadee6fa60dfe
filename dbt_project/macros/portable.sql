{#
    SQL that PostgreSQL and Spark spell differently, dispatched per adapter
    (adapter.dispatch(name, 'crownsync')). postgres__ is exactly the SQL the project ran on
    PostgreSQL before it had a second target; default__ (or spark__) is the portable or the
    Spark SQL spelling. dbt's own cross-database macros (dbt.cast, dbt.type_bigint(), ...)
    are used where they say the same thing. docs/spark.md lists them all.
#}

{# Exact numeric without a fixed scale: PostgreSQL numeric; Spark decimal(38, 6). #}
{% macro type_exact_numeric() -%}
    {{ return(adapter.dispatch('type_exact_numeric', 'crownsync')()) }}
{%- endmacro %}

{% macro postgres__type_exact_numeric() -%}
    numeric
{%- endmacro %}

{% macro default__type_exact_numeric() -%}
    decimal(38, 6)
{%- endmacro %}

{# A uuid column: PostgreSQL uuid; Spark has none, uuids are lower-case text there. #}
{% macro type_uuid() -%}
    {{ return(adapter.dispatch('type_uuid', 'crownsync')()) }}
{%- endmacro %}

{% macro postgres__type_uuid() -%}
    uuid
{%- endmacro %}

{% macro default__type_uuid() -%}
    string
{%- endmacro %}

{# Conditional aggregates: PostgreSQL's aggregate filter clause, elsewhere a case inside. #}
{% macro count_where(condition) -%}
    {{ return(adapter.dispatch('count_where', 'crownsync')(condition)) }}
{%- endmacro %}

{% macro postgres__count_where(condition) -%}
    count(*) filter (where {{ condition }})
{%- endmacro %}

{% macro default__count_where(condition) -%}
    count(case when {{ condition }} then 1 end)
{%- endmacro %}

{% macro count_distinct_where(expression, condition) -%}
    {{ return(adapter.dispatch('count_distinct_where', 'crownsync')(expression, condition)) }}
{%- endmacro %}

{% macro postgres__count_distinct_where(expression, condition) -%}
    count(distinct {{ expression }}) filter (where {{ condition }})
{%- endmacro %}

{% macro default__count_distinct_where(expression, condition) -%}
    count(distinct case when {{ condition }} then {{ expression }} end)
{%- endmacro %}

{% macro sum_where(expression, condition) -%}
    {{ return(adapter.dispatch('sum_where', 'crownsync')(expression, condition)) }}
{%- endmacro %}

{% macro postgres__sum_where(expression, condition) -%}
    sum({{ expression }}) filter (where {{ condition }})
{%- endmacro %}

{% macro default__sum_where(expression, condition) -%}
    sum(case when {{ condition }} then {{ expression }} end)
{%- endmacro %}

{#
    The UTC calendar day of a timestamptz. Spark timestamps are instants shown in the session
    time zone, which the spark target sets to UTC (profiles.yml).
#}
{% macro utc_date(timestamp) -%}
    {{ return(adapter.dispatch('utc_date', 'crownsync')(timestamp)) }}
{%- endmacro %}

{% macro postgres__utc_date(timestamp) -%}
    ({{ timestamp }} at time zone 'UTC')::date
{%- endmacro %}

{% macro spark__utc_date(timestamp) -%}
    to_date({{ timestamp }})
{%- endmacro %}

{# An array column as JSON: PostgreSQL jsonb, Spark JSON text. #}
{% macro array_to_json(column) -%}
    {{ return(adapter.dispatch('array_to_json', 'crownsync')(column)) }}
{%- endmacro %}

{% macro postgres__array_to_json(column) -%}
    to_jsonb({{ column }})
{%- endmacro %}

{% macro spark__array_to_json(column) -%}
    to_json({{ column }})
{%- endmacro %}

{#
    One row per key: the first by order_by. PostgreSQL: distinct on; elsewhere row_number().
    relation: a CTE or table; key, order_by: SQL text; columns: the select list (unqualified).
#}
{% macro first_row_per_key(relation, key, order_by, columns) -%}
    {{ return(adapter.dispatch('first_row_per_key', 'crownsync')(relation, key, order_by, columns)) }}
{%- endmacro %}

{% macro postgres__first_row_per_key(relation, key, order_by, columns) -%}
    select distinct on ({{ key }})
        {{ columns | join(',\n        ') }}
    from {{ relation }}
    order by
        {{ key }} asc,
        {{ order_by }}
{%- endmacro %}

{% macro default__first_row_per_key(relation, key, order_by, columns) -%}
    select
        {{ columns | join(',\n        ') }}
    from (
        select
            {{ relation }}.*,
            row_number() over (partition by {{ key }} order by {{ order_by }}) as row_in_key
        from {{ relation }}
    ) as numbered
    where row_in_key = 1
{%- endmacro %}

{#
    Index configs are PostgreSQL's (dbt-postgres creates them after the table): elsewhere
    none. Use in config(): indexes=table_indexes([...]).
#}
{% macro table_indexes(indexes) -%}
    {{ return(adapter.dispatch('table_indexes', 'crownsync')(indexes)) }}
{%- endmacro %}

{% macro postgres__table_indexes(indexes) -%}
    {{ return(indexes) }}
{%- endmacro %}

{% macro default__table_indexes(indexes) -%}
    {{ return([]) }}
{%- endmacro %}

{#
    Materialization of the exact incremental models (change-log driven, strategy replace_keys,
    both PostgreSQL-only): incremental on PostgreSQL, a plain full table elsewhere.
#}
{% macro change_log_materialization() -%}
    {{ return(adapter.dispatch('change_log_materialization', 'crownsync')()) }}
{%- endmacro %}

{% macro postgres__change_log_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro default__change_log_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#
    The marts' contracts (data types in the marts' yml) are PostgreSQL's: enforced there, off
    elsewhere. Use in config(): contract=mart_contract().
#}
{% macro mart_contract() -%}
    {{ return(adapter.dispatch('mart_contract', 'crownsync')()) }}
{%- endmacro %}

{% macro postgres__mart_contract() -%}
    {{ return({'enforced': true}) }}
{%- endmacro %}

{% macro default__mart_contract() -%}
    {{ return({'enforced': false}) }}
{%- endmacro %}
