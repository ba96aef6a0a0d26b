with

source as (
    select * from {{ source('telecom', 'subscriptions') }}
),

renamed as (
    select
        customerid as customer_id,
        trim(firstname) as first_name,
        trim(lastname) as last_name,
        trim(plantype) as plan_type,
        monthlycharge as monthly_charge,
        subscriptiondate as subscription_date,
        _source_file,
        _file_date,
        _record_number,
        _batch_id,
        _ingested_at
    from source
)

select * from renamed
