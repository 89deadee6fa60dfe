{#
    Custom incremental strategy `replace_keys` (config: incremental_strategy='replace_keys',
    refresh_key='<column>', marker_column='<column>').

    The model's incremental select returns, for every refresh key whose source rows changed:
    its complete, recomputed rows, plus one marker row (marker_column IS NULL) so that a key
    whose rows all vanished (hard deletes) is still known. This strategy then, in one
    transaction:
      1. deletes every target row whose refresh key appears in the batch,
      2. inserts the batch rows except the marker rows.
    So a changed key is replaced completely, and a full refresh and an incremental run give the
    same table.
#}
{% macro get_incremental_replace_keys_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set temp = arg_dict["temp_relation"] -%}
    {%- set dest_columns = arg_dict["dest_columns"] -%}
    {%- set refresh_key = config.require("refresh_key") -%}
    {%- set marker_column = config.require("marker_column") -%}
    {%- set dest_cols_csv = get_quoted_csv(dest_columns | map(attribute="name")) -%}

    delete from {{ target }}
    where {{ refresh_key }} in (
        select distinct batch.{{ refresh_key }}
        from {{ temp }} as batch
    );

    insert into {{ target }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }}
    from {{ temp }}
    where {{ marker_column }} is not null;
{% endmacro %}
