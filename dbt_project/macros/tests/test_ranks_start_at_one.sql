{#
    Generic test: within each partition, the smallest rank is 1 (RANK() semantics).
    Rows with a NULL partition column form their own partition, as in a window function.
#}
{% test ranks_start_at_one(model, column_name, partition_by) %}
    {%- set partition_csv = partition_by | join(", ") %}
    select
        {{ partition_csv }},
        min({{ column_name }}) as min_rank
    from {{ model }}
    group by {{ partition_csv }}
    having min({{ column_name }}) is distinct from 1
{% endtest %}
