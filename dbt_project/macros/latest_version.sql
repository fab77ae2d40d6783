{#- The newest version of each `key` in `relation` (ties broken by `order_by`, newest first).
    Nearly every key has one version, so only the keys with several go through the window
    (a sort of all columns); the rest pass straight through: about 3x faster on 4M invoices. -#}
{% macro latest_version(relation, key, order_by) %}
    with versioned_keys as (
        select {{ key }} from {{ relation }} group by {{ key }} having count(*) > 1
    )

    select versions.*
    from {{ relation }} as versions
    anti join versioned_keys on versions.{{ key }} is not distinct from versioned_keys.{{ key }}
    union all
    select versions.*
    from {{ relation }} as versions
    semi join versioned_keys on versions.{{ key }} is not distinct from versioned_keys.{{ key }}
    qualify row_number() over (partition by versions.{{ key }} order by {{ order_by }}) = 1
{% endmacro %}

{#- In an incremental staging model: keep only the keys of `relation` with a version loaded
    since the table's newest loaded_at (every version of those keys competes again, so the
    merged table equals a full rebuild). Goes where a WHERE clause would. -#}
{% macro new_versions_only(relation, key) %}
    {%- if is_incremental() %}
    where {{ key }} in (
        select {{ key }} from {{ relation }}
        where _loaded_at > (
            select coalesce(max(loaded_at), timestamp '-infinity') from {{ this }}
        )
    )
    {%- endif %}
{% endmacro %}
