-- Line items are append-only facts without a key: every delivered row counts. An item listed
-- twice on one invoice (e.g. two overlapping extracts under different names) is counted twice in
-- spending; this warning lists such (invoice, item) pairs so they are seen, not silently summed.
{{ config(severity='warn') }}

select
    invoice_id,
    item_id,
    count(*) as deliveries
from {{ ref('invoice_line_items') }}
group by invoice_id, item_id
having count(*) > 1
