with

subscriptions as (
    select * from {{ ref('subscriptions') }}
),

by_plan as (
    select
        plan_type,
        count(*) as subscribers,
        cast(round(avg(monthly_charge), 2) as decimal(10, 2)) as avg_monthly_charge
    from subscriptions
    group by plan_type
)

select * from by_plan
