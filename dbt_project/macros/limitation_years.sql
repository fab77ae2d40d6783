{#-
    The limitation period, in years, of an unpaid consumer or business invoice under the law of
    `country`: NL 5 (art. 3:307 BW, claims to perform), BE 10 (art. 2262bis old Civil Code,
    personal claims), NO 3 (foreldelsesloven section 2). Null elsewhere: the claim is then never
    reported as time-barred, and the sale selection says so.
-#}
{% macro limitation_years(country) -%}
    case {{ country }} when 'NL' then 5 when 'BE' then 10 when 'NO' then 3 end
{%- endmacro %}
