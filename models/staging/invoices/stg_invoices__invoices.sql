with

source as (
    select * from {{ source('invoices', 'invoices') }}
),

renamed as (
    select
        invoice_id,
        account_id,
        date_issued,
        _source_file,
        _record_number,
        _batch_id
    from source
)

select * from renamed
