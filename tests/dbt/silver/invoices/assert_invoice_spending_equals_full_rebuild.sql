-- The incremental silver.invoice_spending must equal spending computed from scratch over every
-- delivered row (staging), independently of the silver models it is built from. Returns the rows
-- that differ in either direction; none means the incremental path is right.
-- An audit (tag audit): it reads the whole history, so a plain `lakehouse run` leaves it out of
-- an incremental build; full builds, `--select`, `--full-refresh` and `lakehouse run --audit` run it.
{{ config(tags=['audit']) }}

with

invoices as (
    {{ latest_version_per_key(ref('stg_invoices__invoices'), 'invoice_id') }}
),

skus as (
    {{ latest_version_per_key(ref('stg_invoices__skus'), 'item_id') }}
),

lines as (
    select
        line_items.invoice_id,
        count(*) as line_items,
        sum(case when skus.item_id is null then 1 else 0 end) as unknown_sku_line_items,
        sum(line_items.quantity * skus.item_retail_price) as spending,
        max(greatest(line_items._batch_id, coalesce(skus._batch_id, 0))) as _batch_id
    from {{ ref('stg_invoices__line_items') }} as line_items
    left join skus on line_items.item_id = skus.item_id
    group by line_items.invoice_id
),

rebuilt as (
    select
        invoices.invoice_id,
        invoices.account_id,
        invoices.date_issued,
        cast(
            case when coalesce(lines.unknown_sku_line_items, 0) = 0 then round(coalesce(lines.spending, 0), 2) end
            as decimal(18, 2)
        ) as invoice_spending,
        coalesce(lines.line_items, 0) as line_items,
        coalesce(lines.unknown_sku_line_items, 0) as unknown_sku_line_items,
        greatest(invoices._batch_id, coalesce(lines._batch_id, 0)) as _batch_id
    from invoices
    left join lines on invoices.invoice_id = lines.invoice_id
),

incremental as (
    select
        invoice_id,
        account_id,
        date_issued,
        invoice_spending,
        line_items,
        unknown_sku_line_items,
        _batch_id
    from {{ ref('invoice_spending') }}
)

{{ symmetric_difference('rebuilt', 'incremental') }}
