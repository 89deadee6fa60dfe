{#
    Generic test: the combination of `combination_of_columns` is unique (NULLs compare equal,
    as in GROUP BY). Replaces dbt_utils.unique_combination_of_columns (no packages here).
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns_csv = combination_of_columns | join(", ") %}
    select
        {{ columns_csv }},
        count(*) as n_rows
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1
{% endtest %}
