with

source as (
    select * from {{ source('invoices', 'line_items') }}
),

renamed as (
    select
        invoice_id,
        trim(item_id) as item_id,
        quantity,
        _source_file,
        _record_number,
        _batch_id
    from source
)

select * from renamed
