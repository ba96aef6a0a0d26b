{{
    config(
        unique_key='invoice_id',
    )
}}

{#-
    One row per invoice. Invoices are append-only facts; should one be delivered again, the last
    delivery wins (so a re-sent invoice is never counted twice).
-#}

with

staged as (
    select staged_source.* from {{ ref('stg_invoices__invoices') }} as staged_source
    {{ only_new_batches('staged_source._batch_id') }}
),

latest as (
    {{ latest_arrival('staged', 'invoice_id', ['invoice_id', 'account_id', 'date_issued']) }}
)

select * from latest
