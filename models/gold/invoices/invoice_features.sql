{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='invoice_id',
        on_schema_change='append_new_columns',
    )
}}

{#-
    Invoice-level features: spending = round(sum(quantity * item_retail_price), 2) over all of the
    invoice's lines (retail price, as the original job). Null when a line's SKU is unknown (see
    silver.invoice_spending and the warn_line_items_with_unknown_sku test). Incremental: merges
    the invoices of silver.invoice_spending recomputed since the table's watermark (its newest
    _batch_id; silver already recomputes every invoice a new line, SKU or invoice touched).
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
        invoice_spending as feature_invoice_spending,
        _batch_id
    from spending
    {{ only_new_batches('spending._batch_id') }}
)

select * from features
