{#
    Custom incremental strategy `replace_keys` (config: incremental_strategy='replace_keys',
    refresh_key='<column>' or ['<column>', ...], marker_column='<column>').

    The model's incremental select returns, for every refresh key (one column, or a tuple of
    columns such as (parent, day)) whose source rows changed: its complete, recomputed rows,
    plus one marker row (marker_column IS NULL) so that a key whose rows all vanished (hard
    deletes, rows moved to another key) is still known. This strategy then, in one
    transaction:
      1. deletes every target row whose refresh key appears in the batch (NULL key columns
         compared as values: a group with a NULL parent is replaced too),
      2. inserts the batch rows except the marker rows.
    So a changed key is replaced completely, and a full refresh and an incremental run give the
    same table.
#}
{% macro get_incremental_replace_keys_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set temp = arg_dict["temp_relation"] -%}
    {%- set dest_columns = arg_dict["dest_columns"] -%}
    {%- set refresh_key = config.require("refresh_key") -%}
    {%- set keys = [refresh_key] if refresh_key is string else refresh_key -%}
    {%- set marker_column = config.require("marker_column") -%}
    {%- set dest_cols_csv = get_quoted_csv(dest_columns | map(attribute="name")) -%}

    delete from {{ target }} as existing
    where ({% for key in keys %}existing.{{ key }}{% if not loop.last %}, {% endif %}{% endfor %}) in (
        select distinct {% for key in keys %}batch.{{ key }}{% if not loop.last %}, {% endif %}{% endfor %}
        from {{ temp }} as batch
    );

    -- groups with a NULL key column never match `in`: compared null-safely (few rows)
    delete from {{ target }} as existing
    where ({% for key in keys %}existing.{{ key }} is null{% if not loop.last %} or {% endif %}{% endfor %})
      and exists (
          select from {{ temp }} as batch
          where {% for key in keys %}batch.{{ key }} is not distinct from existing.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
      );

    insert into {{ target }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }}
    from {{ temp }}
    where {{ marker_column }} is not null;
{% endmacro %}
