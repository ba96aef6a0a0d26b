{% macro as_of_date() -%}
    {#- The date features are computed as of, as 'YYYY-MM-DD': the `as_of_date` var when given
        (`lakehouse run --vars '{as_of_date: 2021-03-01}'`), else the day the run started in UTC.
        Features never read the clock otherwise, so a run over the same data with the same
        as_of_date reproduces exactly. -#}
    {%- set given = var('as_of_date', none) -%}
    {%- if given is none or given | string | trim == '' -%}
        {{- return(run_started_at.strftime('%Y-%m-%d')) -}}
    {%- endif -%}
    {%- set text = given | string | trim -%}
    {%- set parts = text.split('-') -%}
    {%- if parts | length != 3 or not text.replace('-', '').isdigit() or text | length != 10 -%}
        {{- exceptions.raise_compiler_error("var as_of_date must be a date YYYY-MM-DD, got '" ~ text ~ "'") -}}
    {%- endif -%}
    {{- return(text) -}}
{%- endmacro %}
