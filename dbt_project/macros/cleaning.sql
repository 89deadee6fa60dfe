{#
    Text cleaning and PII hashing, applied once in staging. Each macro is dispatched
    (adapter.dispatch): postgres__ is the SQL the project always ran on PostgreSQL, spark__
    gives the same values on Spark SQL (docs/spark.md).
#}

{# Region: whitespace runs collapsed to one space, trimmed, title case as PostgreSQL initcap does. #}
{% macro clean_region(column) -%}
    {{ title_case(collapse_whitespace(column)) }}
{%- endmacro %}

{# Tier: whitespace runs collapsed to one space, trimmed, lower case. #}
{% macro clean_tier(column) -%}
    lower({{ collapse_whitespace(column) }})
{%- endmacro %}

{# Email: trimmed, lower case. #}
{% macro clean_email(column) -%}
    lower(trim({{ column }}))
{%- endmacro %}

{# Whitespace runs collapsed to one space, then trimmed. #}
{% macro collapse_whitespace(column) -%}
    {{ return(adapter.dispatch('collapse_whitespace', 'crownsync')(column)) }}
{%- endmacro %}

{% macro postgres__collapse_whitespace(column) -%}
    btrim(regexp_replace({{ column }}, '\s+', ' ', 'g'))
{%- endmacro %}

{% macro spark__collapse_whitespace(column) -%}
    trim(regexp_replace({{ column }}, '\\s+', ' '))
{%- endmacro %}

{#
    Title case as PostgreSQL initcap: the first letter or digit of every run of letters and
    digits upper case, every other one lower case ('north-east  x' -> 'North-East  X').
    Spark's own initcap splits words on spaces only ('North-east'), so Spark spells
    initcap out character by character.
#}
{% macro title_case(column) -%}
    {{ return(adapter.dispatch('title_case', 'crownsync')(column)) }}
{%- endmacro %}

{% macro postgres__title_case(column) -%}
    initcap({{ column }})
{%- endmacro %}

{% macro spark__title_case(column) -%}
    array_join(
        transform(
            sequence(1, greatest(length({{ column }}), 1)),
            i -> case
                when i = 1 or not substr({{ column }}, i - 1, 1) rlike '[\\p{L}\\p{N}]'
                    then upper(substr({{ column }}, i, 1))
                else lower(substr({{ column }}, i, 1))
            end
        ),
        ''
    )
{%- endmacro %}

{#
    Stable hashed key for a personal value (email, phone...): sha256 hex of the normalised
    (trimmed, lower-cased) text. PostgreSQL: core sha256(bytea), no pgcrypto. NULL stays NULL.
#}
{% macro hash_pii(column) -%}
    {{ return(adapter.dispatch('hash_pii', 'crownsync')(column)) }}
{%- endmacro %}

{% macro postgres__hash_pii(column) -%}
    encode(sha256(convert_to(lower(btrim({{ column }}::text)), 'UTF8')), 'hex')
{%- endmacro %}

{% macro spark__hash_pii(column) -%}
    sha2(lower(trim(cast({{ column }} as string))), 256)
{%- endmacro %}

{# A uuid taken from free text only when it is a well-formed (hyphenated) uuid; else NULL. #}
{% macro safe_uuid(column) -%}
    {{ return(adapter.dispatch('safe_uuid', 'crownsync')(column)) }}
{%- endmacro %}

{% macro postgres__safe_uuid(column) -%}
    case
        when btrim({{ column }}) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            then lower(btrim({{ column }}))::uuid
    end
{%- endmacro %}

{# Spark has no uuid type: uuids are lower-case text, as the JDBC reader gives raw uuid columns #}
{% macro spark__safe_uuid(column) -%}
    case
        when trim({{ column }}) rlike '^(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            then lower(trim({{ column }}))
    end
{%- endmacro %}

{# Percentage rounded to 2 decimals; NULL when the denominator is 0 or NULL. #}
{% macro safe_pct(numerator, denominator) -%}
    round(100.0 * {{ numerator }} / nullif({{ denominator }}, 0), 2)
{%- endmacro %}

{# Ratio rounded to 2 decimals; NULL when the denominator is 0 or NULL. #}
{% macro safe_ratio(numerator, denominator) -%}
    round(cast({{ numerator }} as {{ type_exact_numeric() }}) / nullif({{ denominator }}, 0), 2)
{%- endmacro %}
