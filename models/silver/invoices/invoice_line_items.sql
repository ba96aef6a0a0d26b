{{
    config(
        incremental_strategy='append',
    )
}}

{#-
    Every delivered invoice line, appended once: each run appends the lines of ingestion batches
    newer than the newest batch already here (batches commit atomically, so nothing is skipped or
    appended twice). Lines have no key of their own; a file delivered twice with the same bytes is
    skipped by ingestion, and `warn_duplicate_invoice_lines` flags an item listed twice on an invoice.
-#}

with

staged as (
    select staged_source.* from {{ ref('stg_invoices__line_items') }} as staged_source
    {{ only_new_batches('staged_source._batch_id') }}
),

lines as (
    select
        invoice_id,
        item_id,
        quantity,
        _source_file,
        _record_number,
        _batch_id
    from staged
)

select * from lines
