{#-
    Account-level features as of one date (`as_of_date`: a run var, default today in UTC), over
    the account's full invoice history up to that date. Point in time: invoices issued after the
    as-of date and accounts that joined after it are left out, so a past as-of date gives the
    features an analyst would have had then. Rebuilt from silver on every run (the ages move with
    the as-of date); gold.account_features_history keeps one copy per as-of date.
-#}

{%- set as_of = "cast('" ~ as_of_date() ~ "' as date)" %}

with

accounts as (
    select * from {{ ref('invoice_accounts') }}
    where joining_date is null or joining_date <= {{ as_of }}
),

invoices as (
    select * from {{ ref('invoices') }}
    where date_issued <= {{ as_of }}
),

invoices_per_account as (
    {#- The mean of the days between consecutive invoices (ordered by date) telescopes to
        (last - first) / (invoices - 1). -#}
    select
        account_id,
        count(distinct invoice_id) as total_invoices,
        {{ days_between('min(date_issued)', 'max(date_issued)') }} as history_days
    from invoices
    group by account_id
),

ages as (
    select
        accounts.account_id,
        accounts.company_name,
        accounts.joining_date,
        {{ days_between('accounts.joining_date', as_of) }} as account_age_day,
        coalesce(invoices_per_account.total_invoices, 0) as total_invoices,
        invoices_per_account.history_days
    from accounts
    left join invoices_per_account
        on accounts.account_id = invoices_per_account.account_id
),

features as (
    {#- decimal(16, 6), not (10, 0): Trino's decimal quotient keeps the larger scale of its operands,
        so a scale-0 numerator would round the quotient to a whole number before round(..., 2).
        Six decimals cannot move the rounding: a quotient of whole numbers a / b lies at least
        1 / (200 b) from a 2-decimal boundary (1.4e-5 for b = 365) and 1 / (2 b) from a whole one. -#}
    select
        account_id,
        company_name,
        joining_date,
        cast(account_age_day as int) as feature_account_age_day,
        cast(round(cast(account_age_day as decimal(16, 6)) / 365, 2) as decimal(10, 2))
            as feature_account_age_year,
        case
            when account_age_day is null then null
            when round(cast(account_age_day as decimal(16, 6)) / 365, 2) > 1 then 1
            else 0
        end as feature_customer_age_over_one_year,
        cast(total_invoices as bigint) as feature_total_invoices,
        case
            when total_invoices >= 2
                then cast(round(cast(history_days as decimal(16, 6)) / (total_invoices - 1), 0) as int)
        end as feature_avg_invoice_interval_day,
        {{ as_of }} as as_of_date
    from ages
)

select * from features
