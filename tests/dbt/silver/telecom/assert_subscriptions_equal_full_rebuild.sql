-- The incremental silver.subscriptions must equal a from-scratch computation over all of bronze
-- (latest_version_per_key outside an incremental run: latest file date, then arrival).
-- Returns the rows that differ (in either direction); none means the incremental path is right.
-- An audit (tag audit): it reads the whole history, so a plain `lakehouse run` leaves it out of
-- an incremental build; full builds, `--select`, `--full-refresh` and `lakehouse run --audit` run it.
{{ config(tags=['audit']) }}

with

rebuilt as (
    {{ latest_version_per_key(
        ref('stg_telecom__subscriptions'), 'customer_id', changed_at='_file_date', nulls='last',
        exclude=['_ingested_at']
    ) }}
),

incremental as (
    select {{ relation_columns(ref('stg_telecom__subscriptions'), exclude=['_ingested_at']) | join(', ') }}
    from {{ ref('subscriptions') }}
)

{{ symmetric_difference('rebuilt', 'incremental') }}
