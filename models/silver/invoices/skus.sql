{{
    config(
        unique_key='item_id',
    )
}}

{#- One current row per SKU; the last delivery wins (see invoice_accounts). -#}

with

latest as (
    {{ latest_version_per_key(ref('stg_invoices__skus'), 'item_id') }}
)

select * from latest
