{{
    config(
        unique_key='customer_id',
        partition_by=none,
    )
}}

{#-
    One current row per customer. "Latest file wins": the record from the file with the latest
    business date (_file_date) wins; equal dates are broken by arrival (_batch_id), then by file
    name, then by position in the file. A late file (older date, newer batch) therefore never
    overwrites newer data: in the incremental branch the current row competes with the new ones.
-#}

with

staged as (
    select staged_source.* from {{ ref('stg_telecom__subscriptions') }} as staged_source
    {{ only_new_batches('staged_source._batch_id') }}
),

{% if is_incremental() %}
    current_rows as (
        select current_table.* from {{ this }} as current_table
        where current_table.customer_id in (select staged.customer_id from staged)
    ),
{% endif %}

candidates as (
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
    from staged
    {% if is_incremental() %}
        union all
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
        from current_rows
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by
                _file_date desc nulls last,
                _batch_id desc,
                _source_file desc,
                _record_number desc
        ) as recency_rank
    from candidates
),

latest as (
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
    from ranked
    where recency_rank = 1
)

select * from latest
