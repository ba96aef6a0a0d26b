{{
    config(
        unique_key='item_id',
    )
}}

{#- One current row per SKU; the last delivery wins (see invoice_accounts). -#}

with

staged as (
    select staged_source.* from {{ ref('stg_invoices__skus') }} as staged_source
    {{ only_new_batches('staged_source._batch_id') }}
),

latest as (
    {{ latest_arrival('staged', 'item_id', [
        'item_id', 'item_name', 'item_description', 'item_cost_price', 'item_retail_price',
    ]) }}
)

select * from latest
