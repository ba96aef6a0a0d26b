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

latest as (
    {{ latest_version_per_key(ref('stg_invoices__invoices'), 'invoice_id') }}
)

select * from latest
