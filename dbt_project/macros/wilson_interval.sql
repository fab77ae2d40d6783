{#- Wilson score interval (95% by default) for `successes` out of `trials`: the bounds of a
    rate that stay inside [0, 1] and behave for small counts; null when trials = 0. -#}
{% macro wilson_bound(successes, trials, side, z=1.96) -%}
    case when {{ trials }} > 0 then (
        ({{ successes }}::double / {{ trials }}) + {{ z * z }} / (2.0 * {{ trials }})
        {{ '-' if side == 'low' else '+' }} {{ z }} * sqrt(
            ({{ successes }}::double / {{ trials }}) * (1 - {{ successes }}::double / {{ trials }})
            / {{ trials }} + {{ z * z }} / (4.0 * {{ trials }} * {{ trials }})
        )
    ) / (1 + {{ z * z }} / {{ trials }}) end
{%- endmacro %}

{#- rate, rate_ci_low and rate_ci_high columns named `name` for successes out of trials. -#}
{% macro rate_with_interval(name, successes, trials) -%}
    {{ successes }}::double / nullif({{ trials }}, 0) as {{ name }},
    {{ wilson_bound(successes, trials, 'low') }} as {{ name }}_ci_low,
    {{ wilson_bound(successes, trials, 'high') }} as {{ name }}_ci_high
{%- endmacro %}
