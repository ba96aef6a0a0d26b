{{
    config(
        materialized='view',
        file_format=view_file_format(),
    )
}}

{#-
    Invoice-level features: spending = round(sum(quantity * item_retail_price), 2) over all of the
    invoice's lines (retail price, as the original job). Null when a line's SKU is unknown (see
    silver.invoice_spending and the warn_line_items_with_unknown_sku test). A view: a projection of
    silver.invoice_spending (incremental, one row per invoice), so no run copies it.
-#}

with

spending as (
    select * from {{ ref('invoice_spending') }}
),

features as (
    select
        account_id,
        invoice_id,
        date_issued,
        invoice_spending as feature_invoice_spending
    from spending
)

select * from features
