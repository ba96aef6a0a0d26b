with

source as (
    select * from {{ source('datamart', 'settlement_transaction') }}
),

renamed as (
    select
        trim(transaction_id) as transaction_id,
        nullif(trim(queue_id), '') as queue_id,
        amount,
        upper(trim(currency)) as currency,
        trim(status) as status,
        created_at,
        coalesce(is_deleted, false) as is_deleted,
        _source_file,
        _record_number,
        _batch_id,
        _ingested_at
    from source
)

select * from renamed
