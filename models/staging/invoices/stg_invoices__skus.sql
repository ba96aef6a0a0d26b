with

source as (
    select * from {{ source('invoices', 'skus') }}
),

renamed as (
    select
        trim(item_id) as item_id,
        trim(item_name) as item_name,
        trim(item_description) as item_description,
        item_cost_price,
        item_retail_price,
        _source_file,
        _record_number,
        _batch_id
    from source
)

select * from renamed
