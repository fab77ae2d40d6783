{#- debtor_features, part 6: dunning history: reminders in the current overdue episode and the
    debtor's past episodes (from `episodes_relation`). -#}
{% macro feature_dunning_history(episodes_relation) %}
episode_contacts as (
    select balances.as_of, balances.debtor_id, count(*) as reminders_current_episode
    from balances
    inner join events
        on balances.debtor_id = events.debtor_id
        and events.event_type = 'sent'
        and events.occurred_date >= balances.oldest_overdue_due_date
        and events.occurred_date < balances.as_of
    group by 1, 2
),

episode_history as (
    select
        dates.as_of,
        episodes.debtor_id,
        count(*) filter (where episodes.episode_end is not null) as n_past_overdue_episodes,
        count(*) filter (where episodes.episode_start >= dates.as_of - 365)
            as n_overdue_episodes_12m
    from dates
    inner join {{ episodes_relation }} as episodes
        on dates.as_of = episodes.as_of
    group by 1, 2
)
{%- endmacro %}
