{#
    The ingestion change log (raw._changed_keys, written by ingestion/ledger.py only) as
    seen by an exact incremental model. Read through these macros, not as a dbt source:
    the ledger is bookkeeping, not a data asset.

    ledger_relation(name): raw.<name> (raw._changed_keys, raw._loads).

    change_log_window(table_name, watermark_column): at run time, the load-id window of
    this run, as a dict:
      w_old        max(watermark_column) of {{ this }} (0 for an empty table; None when not
                   incremental or rebuild_all)
      w_new        least(max load_id in the change log for the table,
                         min load_id of the table's loads still 'running' - 1),
                   never below w_old, 0 when nothing is known
      rebuild_all  True when the log cannot say exactly what changed since w_old: a reset
                   marker (first load, pruned rows) in (w_old, w_new], or {{ this }} has rows
                   but no watermark (built by an older version of the model), or no ledger
      reason       why rebuild_all (logged as a warning by the caller)
    A running load's rows are invisible and its 'running' row was committed before them
    (ledger.start_load), so every change row at or below w_new is committed and visible.
#}
{% macro ledger_relation(name) -%}
    {{ return(api.Relation.create(database=target.database, schema='raw', identifier=name)) }}
{%- endmacro %}


{% macro change_log_window(table_name, watermark_column) %}
    {{ return(adapter.dispatch('change_log_window', 'crownsync')(table_name, watermark_column)) }}
{% endmacro %}


{#
    Targets without the change log (Spark, docs/spark.md): the exact incremental models are
    plain tables there (change_log_materialization), rebuilt in full on every run; w_new 0.
#}
{% macro default__change_log_window(table_name, watermark_column) %}
    {{ return({'w_old': none, 'w_new': 0, 'rebuild_all': false, 'reason': none}) }}
{% endmacro %}


{% macro postgres__change_log_window(table_name, watermark_column) %}
    {%- set window = {'w_old': none, 'w_new': 0, 'rebuild_all': false, 'reason': none} -%}
    {%- if not execute -%}
        {{ return(window) }}
    {%- endif -%}
    {%- set log_rel = adapter.get_relation(database=target.database, schema='raw', identifier='_changed_keys') -%}
    {%- set incremental = is_incremental() -%}
    {%- set w_old_sql = 'null::bigint' -%}
    {%- set rows_sql = '0' -%}
    {%- set has_column = false -%}
    {%- if incremental -%}
        {%- set has_column = watermark_column in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}
        {%- if has_column -%}
            {%- set w_old_sql = '(select max(' ~ adapter.quote(watermark_column) ~ ') from ' ~ this ~ ')' -%}
        {%- endif -%}
        {%- set rows_sql = '(select count(*) from (select 1 from ' ~ this ~ ' limit 1) as any_row)' -%}
    {%- endif -%}
    {%- if log_rel is none -%}
        {%- set query -%}
            select {{ w_old_sql }} as w_old, {{ rows_sql }} as n_rows, 0::bigint as w_new, null::bigint as reset_at
        {%- endset -%}
    {%- else -%}
        {%- set query -%}
            with previous as (
                select {{ w_old_sql }} as w_old, {{ rows_sql }} as n_rows
            ),

            bounds as (
                select
                    (select max(changes.load_id) from {{ log_rel }} as changes
                     where changes.table_name = '{{ table_name }}') as max_logged,
                    (select min(loads.load_id) from {{ ledger_relation('_loads') }} as loads
                     where loads.status = 'running' and loads.target = '{{ table_name }}') as min_running
            ),

            window_ as (
                select
                    previous.w_old,
                    previous.n_rows,
                    coalesce(greatest(previous.w_old, least(bounds.max_logged, bounds.min_running - 1)), 0) as w_new
                from previous cross join bounds
            )

            select
                window_.w_old,
                window_.n_rows,
                window_.w_new,
                (select max(changes.load_id) from {{ log_rel }} as changes
                 where changes.table_name = '{{ table_name }}'
                   and changes.parent_key is null and changes.activity_date is null
                   and changes.load_id > coalesce(window_.w_old, 0)
                   and changes.load_id <= window_.w_new) as reset_at
            from window_
        {%- endset -%}
    {%- endif -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- do window.update({'w_old': row['w_old'], 'w_new': row['w_new']}) -%}
    {%- if incremental -%}
        {%- if log_rel is none -%}
            {%- do window.update({'rebuild_all': true, 'reason': 'there is no change log (raw._changed_keys) yet'}) -%}
        {%- elif not has_column and row['n_rows'] > 0 -%}
            {%- do window.update({'rebuild_all': true, 'reason': 'the table has no ' ~ watermark_column ~ ' column (built by an older version of the model)'}) -%}
        {%- elif row['w_old'] is none and row['n_rows'] > 0 -%}
            {%- do window.update({'rebuild_all': true, 'reason': 'the table has rows but no watermark (' ~ watermark_column ~ ' is NULL)'}) -%}
        {%- elif row['reset_at'] is not none -%}
            {%- do window.update({'rebuild_all': true, 'reason': 'the change log does not cover loads after ' ~ (row['w_old'] or 0) ~ ' (reset marker at load ' ~ row['reset_at'] ~ ')'}) -%}
        {%- endif -%}
        {%- if window['rebuild_all'] -%}
            {%- do exceptions.warn(this.identifier ~ ': ' ~ window['reason'] ~ ': rebuilding all groups') -%}
        {%- elif window['w_old'] is none -%}
            {#- an empty table: every logged change is after it -#}
            {%- do window.update({'w_old': 0}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(window) }}
{% endmacro %}
