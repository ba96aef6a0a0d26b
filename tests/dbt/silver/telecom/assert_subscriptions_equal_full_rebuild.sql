-- The incremental silver.subscriptions must equal a from-scratch computation over all of bronze.
-- Returns the rows that differ (in either direction); none means the incremental path is right.

with

rebuilt as (
    select
        customer_id,
        first_name,
        last_name,
        plan_type,
        monthly_charge,
        subscription_date,
        _source_file,
        _file_date,
        _record_number,
        _batch_id
    from (
        select
            *,
            row_number() over (
                partition by customer_id
                order by _file_date desc nulls last, _batch_id desc, _source_file desc, _record_number desc
            ) as recency_rank
        from {{ ref('stg_telecom__subscriptions') }}
    ) as ranked
    where recency_rank = 1
),

incremental as (
    select
        customer_id,
        first_name,
        last_name,
        plan_type,
        monthly_charge,
        subscription_date,
        _source_file,
        _file_date,
        _record_number,
        _batch_id
    from {{ ref('subscriptions') }}
)

{{ symmetric_difference('rebuilt', 'incremental') }}
