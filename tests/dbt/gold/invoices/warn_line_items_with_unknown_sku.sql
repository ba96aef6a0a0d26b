-- Invoice lines whose SKU is not in silver.skus. Their invoices keep a NULL spending (unknown,
-- never understated) until the SKU arrives. One row per such line, so dbt's "Got N results" is
-- the number of lines that cannot be priced: never silently dropped.
{{ config(severity='warn') }}

select
    line_items.invoice_id,
    line_items.item_id,
    line_items.quantity,
    line_items._source_file,
    line_items._record_number
from {{ ref('invoice_line_items') }} as line_items
left join {{ ref('skus') }} as skus
    on line_items.item_id = skus.item_id
where skus.item_id is null
