{#
    The raw tables as the Spark target sees them (on-run-start hook, dbt_project.yml).

    Spark reads the same warehouse PostgreSQL as the postgres target: every dbt source table
    raw.<name> becomes the global temporary view global_temp.<name> over Spark's JDBC data
    source (the sources' schema is global_temp on Spark). Temporary views are made anew in
    every dbt invocation (one SparkSession each): no credentials are stored in the Spark
    metastore, and the password reaches the JVM only as the environment variable
    DBT_PG_PASSWORD, which Spark substitutes (${env:...}) when it parses the statement: it is
    in no SQL text, compiled file or log. The connection is read only.

    On PostgreSQL this hook does nothing.
#}
{% macro register_raw_sources() %}
    {{ return(adapter.dispatch('register_raw_sources', 'crownsync')()) }}
{% endmacro %}

{% macro default__register_raw_sources() %}
    {{ return('') }}
{% endmacro %}

{% macro spark__register_raw_sources() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set url = 'jdbc:postgresql://' ~ env_var('DBT_PG_HOST', '127.0.0.1') ~ ':' ~ env_var('DBT_PG_PORT', '5433')
        ~ '/' ~ env_var('DBT_PG_DBNAME', 'crownsync_warehouse')
        ~ '?readOnly=true&sslmode=' ~ env_var('DBT_PG_SSLMODE', 'prefer') ~ '&ApplicationName=crownsync-spark' -%}
    {%- set registered = [] -%}
    {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
        {%- if source.identifier not in registered -%}
            {%- set statement -%}
                create or replace global temporary view {{ source.identifier }}
                using org.apache.spark.sql.jdbc
                options (
                    driver 'org.postgresql.Driver',
                    url '{{ url }}',
                    dbtable '"raw"."{{ source.identifier }}"',
                    user '{{ env_var('DBT_PG_USER', 'postgres') }}',
                    password '${env:DBT_PG_PASSWORD}',
                    fetchsize '10000'
                )
            {%- endset -%}
            {%- do run_query(statement) -%}
            {%- do registered.append(source.identifier) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ log('Spark: ' ~ registered | length ~ ' raw tables registered over JDBC (global_temp)', info=true) }}
    {{ return('') }}
{% endmacro %}
