{#
    Text cleaning and PII hashing, applied once in staging.
#}

{# Region: whitespace runs collapsed to one space, trimmed, title case as PostgreSQL initcap does. #}
{% macro clean_region(column) -%}
    initcap(btrim(regexp_replace({{ column }}, '\s+', ' ', 'g')))
{%- endmacro %}

{# Tier: whitespace runs collapsed to one space, trimmed, lower case. #}
{% macro clean_tier(column) -%}
    lower(btrim(regexp_replace({{ column }}, '\s+', ' ', 'g')))
{%- endmacro %}

{# Email: trimmed, lower case. #}
{% macro clean_email(column) -%}
    lower(btrim({{ column }}))
{%- endmacro %}

{#
    Stable hashed key for a personal value (email, phone...): sha256 hex of the normalised
    (trimmed, lower-cased) text. Core sha256(bytea), no pgcrypto. NULL stays NULL.
#}
{% macro hash_pii(column) -%}
    encode(sha256(convert_to(lower(btrim({{ column }}::text)), 'UTF8')), 'hex')
{%- endmacro %}

{# A uuid taken from free text only when it is a well-formed (hyphenated) uuid; else NULL. #}
{% macro safe_uuid(column) -%}
    case
        when btrim({{ column }}) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            then lower(btrim({{ column }}))::uuid
    end
{%- endmacro %}

{# Percentage rounded to 2 decimals; NULL when the denominator is 0 or NULL. #}
{% macro safe_pct(numerator, denominator) -%}
    round(100.0 * {{ numerator }} / nullif({{ denominator }}, 0), 2)
{%- endmacro %}

{# Ratio rounded to 2 decimals; NULL when the denominator is 0 or NULL. #}
{% macro safe_ratio(numerator, denominator) -%}
    round(({{ numerator }})::numeric / nullif({{ denominator }}, 0), 2)
{%- endmacro %}
